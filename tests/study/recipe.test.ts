// The recipe axis: training settings (weight decay, dropout, gradient clipping, ...) varied across runs like
// any other axis of the grid; each recipe is in its run's config and id, reaches the trainer, and a bad one is
// refused at spec load naming the field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runConfigFromJob } from '../../src/study/run-config.ts';
import { studyValidator } from '../../src/study/validator.ts';
import { SpecError } from '../../src/sweep/errors.ts';
import { expandSweep, recipeOf, type TrainConfig } from '../../src/sweep/expand.ts';
import { validateSweepSpec } from '../../src/sweep/spec.ts';

const spec = (grid: object) => ({
  name: 'recipes',
  train: { vocabSize: 512, weightDecay: 0.1 },
  grid: { model: [{ d_model: 32, n_layers: 1, n_heads: 2, context: 16 }], tokens: [10_000], ...grid },
});

test('each recipe is a run of its own, and reaches the trainer over the shared settings', () => {
  const recipes = [{ weightDecay: 0 }, { weightDecay: 0.1, dropout: 0.1, gradClip: 0 }];
  const jobs = expandSweep(validateSweepSpec(spec({ recipe: recipes }), studyValidator));
  const train = jobs.filter((j) => j.kind === 'train');
  assert.equal(train.length, 2);
  assert.notEqual(train[0].id, train[1].id);
  const configs = train.map((j) => runConfigFromJob(j.config as TrainConfig));
  assert.equal(configs[0].train.weightDecay, 0);
  assert.equal(configs[0].model.dropout, 0);
  assert.equal(configs[1].train.weightDecay, 0.1);
  assert.equal(configs[1].model.dropout, 0.1);
  assert.equal(configs[1].train.gradClip, 0);
  assert.deepEqual(recipeOf(train[1].config as TrainConfig), recipes[1]);
  // No recipe axis: the job config has no recipe at all, so run ids are those of grids written before it.
  const plain = expandSweep(validateSweepSpec(spec({}), studyValidator)).filter((j) => j.kind === 'train');
  assert.equal('recipe' in plain[0].config, false);
  assert.equal(runConfigFromJob(plain[0].config as TrainConfig).train.weightDecay, 0.1);
});

test('a recipe with an unknown key, a value of the wrong type or no mapping is refused, naming the field', () => {
  const issues = (recipe: unknown) => {
    try {
      validateSweepSpec(spec({ recipe }), studyValidator);
    } catch (e) {
      assert.ok(e instanceof SpecError);
      return e.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    }
    assert.fail('accepted');
  };
  assert.match(issues([{ weightDecay: 0 }, { weight_decy: 0.1 }]), /sweep\.grid\.recipe\[1\]\.weight_decy/);
  assert.match(issues([{ dropout: 'lots' }]), /sweep\.grid\.recipe\[0\]\.dropout: .*lots/);
  assert.match(issues([{ gradClip: -1 }]), /sweep\.grid\.recipe\[0\]\.gradClip/);
  assert.match(issues(['bf16']), /sweep\.grid\.recipe\[0\]: "bf16" is not a mapping of training settings/);
});
