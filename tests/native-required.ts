// Native tests skip where the addon is not built (a machine set up with BITSCALE_NATIVE=0 runs the js backend
// only). Under CI they must not: there a missing addon is a broken build, so the test file fails with the reason.
export const underCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/** The reason to skip a native test, or false to run it; under CI a reason is an error instead. */
export function nativeSkip(reason: string | false): string | false {
  if (reason && underCi) {
    throw new Error(`CI requires the native CPU addon, and here: ${reason}`);
  }
  return reason;
}
