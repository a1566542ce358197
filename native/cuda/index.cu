// Indexing: gather (embedding lookup) and scatterAdd (its gradient). Indices out of range are recorded in the
// device error flag and raised at the next synchronization.
#include "common.cuh"

namespace {

__global__ void gather_kernel(const float* table, long long rows, const int* idx, float* out, long long n_idx, long long row,
                              bc::DeviceError* err) {
  const long long total = n_idx * row;
  for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < total; k += (long long)gridDim.x * blockDim.x) {
    const long long i = k / row, c = k % row;
    const int r = idx[i];
    if (r < 0 || r >= rows) {
      bc::record_error(err, bc::kErrGatherIndex, r, i);
      out[k] = 0;
      continue;
    }
    out[k] = table[r * row + c];
  }
}

// Atomic adds: repeated indices (the same token twice in a batch) accumulate in an unspecified order.
__global__ void scatter_add_kernel(const float* src, const int* idx, float* out, long long rows, long long n_idx, long long row,
                                   bc::DeviceError* err) {
  const long long total = n_idx * row;
  for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < total; k += (long long)gridDim.x * blockDim.x) {
    const long long i = k / row, c = k % row;
    const int r = idx[i];
    if (r < 0 || r >= rows) {
      bc::record_error(err, bc::kErrScatterIndex, r, i);
      continue;
    }
    atomicAdd(out + r * row + c, src[k]);
  }
}

}  // namespace

// gather(table, idx, out, nIdx, rowSize)
BC_KERNEL(gather) {
  const long long n_idx = a.integer(3, "nIdx"), row = a.integer(4, "rowSize");
  bc::Storage& table = a.storage(0, "table");
  const float* t = a.f32(0, "table", 0);
  const int* idx = a.i32(1, "idx", n_idx);
  float* out = a.out_f32(2, "out", n_idx * row);
  if (n_idx * row == 0) return nullptr;
  bc::op_context() = "gather(nIdx=" + std::to_string(n_idx) + ", rowSize=" + std::to_string(row) + ")";
  gather_kernel<<<bc::blocks_for(n_idx * row, 256), 256>>>(t, static_cast<long long>(table.size) / row, idx, out, n_idx, row,
                                                           bc::device_error());
  bc::check_launch("gather");
  return nullptr;
}

// scatterAdd(src, idx, out, nIdx, rowSize)
BC_KERNEL(scatterAdd) {
  const long long n_idx = a.integer(3, "nIdx"), row = a.integer(4, "rowSize");
  const float* src = a.f32(0, "src", n_idx * row);
  const int* idx = a.i32(1, "idx", n_idx);
  bc::Storage& o = a.storage(2, "out");
  float* out = a.f32(2, "out", 0);
  if (n_idx * row == 0) return nullptr;
  bc::op_context() = "scatterAdd(nIdx=" + std::to_string(n_idx) + ", rowSize=" + std::to_string(row) + ")";
  scatter_add_kernel<<<bc::blocks_for(n_idx * row, 256), 256>>>(src, idx, out, static_cast<long long>(o.size) / row, n_idx, row,
                                                                bc::device_error());
  bc::check_launch("scatterAdd");
  return nullptr;
}
