// Tensor-core flash attention (flash_attention.cu), called by attention.cu in the bf16/tf32/fp16 matmul modes, and
// the layout helpers every attention path shares.
#pragma once

namespace bc {

struct AttentionDims {
  int B, T, nh, hs;
  float scale;
  bool causal;
  bool fp16 = false;  // operands rounded to half (the fp16 matmul mode), else to bf16
};

// Head sizes with a flash kernel; others take attention.cu's cuBLASLt path.
bool flash_attention_supports(int hs);
// q, k, v as 16-bit copies (bf16, or half when d.fp16) in their (B, T, nh, hs) layout: bc::half_copy.
struct FlashOperands {
  const void *q, *k, *v;
};
// out (B, T, nh, hs) fp32; lse (B, nh, T).
void flash_attention_forward(const FlashOperands& x, float* out, float* lse, const AttentionDims& d);
// out and lse as the forward wrote them; g_out fp32 and g_out16 its 16-bit copy; gq, gk, gv are overwritten.
void flash_attention_backward(const FlashOperands& x, const float* out, const float* lse, const float* g_out, const void* g_out16,
                              float* gq, float* gk, float* gv, const AttentionDims& d);

// x (B, T, nh, hs) f32 -> y (B, nh, T, hs) bf16, or half when d.fp16 (hs a multiple of 4).
void attention_to_heads(const float* x, void* y, const AttentionDims& d);
// delta (B, nh, T) = rowsum(gOut * out), the softmax backward's row term.
void attention_row_dots(const float* out, const float* g_out, float* delta, const AttentionDims& d);

}  // namespace bc
