/* A pmap kernel plugin in plain C: it includes only <pmap/plugin_abi.h> and links nothing of
 * pmap, so any C compiler builds it.
 *
 *   cc -shared -fPIC -O2 -I<prefix>/include sample_kernels.c -o libpmap_sample_kernels.so -lm
 *   pmap kernels --plugin ./libpmap_sample_kernels.so
 *   mpirun -np 2 pmap run --plugin ./libpmap_sample_kernels.so --kernel sqrt_sum --range 1:201
 *
 * Two kernels:
 *   sqrt_sum  sum of sqrt(i * x) for i < n (the CPU-bound benchmark function, W3)
 *   collatz   steps of the Collatz sequence from x down to 1, and its peak; an item that needs
 *             more than max_steps steps fails (to show failures), and it honours should_stop()
 */
#include <math.h>
#include <pmap/plugin_abi.h>
#include <stdio.h>

static int sqrt_sum(void* user_data, const pmap_item* item, const pmap_arg_value* args,
                    size_t n_args, double* out, size_t n_out, const pmap_context* ctx, char* error,
                    size_t error_size) {
  (void)user_data;
  (void)n_args;
  (void)n_out;
  (void)ctx;
  (void)error;
  (void)error_size;
  const double x = (double)item->value;
  const int64_t n = args[0].i; /* "n", the only argument */
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += sqrt((double)i * x);
  out[0] = s;
  return 0;
}

static int collatz(void* user_data, const pmap_item* item, const pmap_arg_value* args,
                   size_t n_args, double* out, size_t n_out, const pmap_context* ctx, char* error,
                   size_t error_size) {
  (void)user_data;
  (void)n_args;
  (void)n_out;
  const int64_t max_steps = args[0].i;
  if (item->value < 1) {
    snprintf(error, error_size, "x=%lld: the Collatz sequence starts at 1 or more",
             (long long)item->value);
    return 1;
  }
  uint64_t x = (uint64_t)item->value;
  uint64_t peak = x;
  int64_t steps = 0;
  while (x != 1) {
    x = (x % 2 == 0) ? x / 2 : 3 * x + 1;
    if (x > peak) peak = x;
    if (++steps > max_steps) {
      snprintf(error, error_size, "x=%lld: more than max_steps=%lld steps", (long long)item->value,
               (long long)max_steps);
      return 2;
    }
    if ((steps & 0xffff) == 0 && ctx->should_stop(ctx)) {
      snprintf(error, error_size, "stopped");
      return 3;
    }
  }
  out[0] = (double)steps;
  out[1] = (double)peak;
  return 0;
}

static const pmap_arg_spec sqrt_sum_args[] = {
    {"n", PMAP_ARG_INT, "200000", "terms of the sum (i = 0 .. n-1)"}};
static const char* const sqrt_sum_columns[] = {"sum"};

static const pmap_arg_spec collatz_args[] = {
    {"max_steps", PMAP_ARG_INT, "1000", "fail items that need more steps than this"}};
static const char* const collatz_columns[] = {"steps", "peak"};

static const pmap_kernel_def kernels[] = {
    {"sqrt_sum", "sum of sqrt(i * x) for i < n: the CPU-bound benchmark function (C plugin)",
     sqrt_sum_args, 1, sqrt_sum_columns, 1, sqrt_sum, NULL},
    {"collatz", "steps of the Collatz sequence from x to 1, and its peak (C plugin)", collatz_args,
     1, collatz_columns, 2, collatz, NULL},
};

static const pmap_plugin plugin = {
    PMAP_PLUGIN_ABI_VERSION,           sizeof(pmap_plugin), "sample_kernels", "1.0", kernels,
    sizeof kernels / sizeof kernels[0]};

PMAP_PLUGIN_DECLARE_ABI_VERSION()

PMAP_PLUGIN_EXPORT const pmap_plugin* pmap_plugin_init(void) { return &plugin; }
