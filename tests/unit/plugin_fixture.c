/* Test plugins for plugin_test.cpp, one source built several times with a FIXTURE_* define:
 *   (none)              a good plugin: kernels fixture_args, fixture_wait, fixture_fail
 *   FIXTURE_ABI_99      pmap_plugin_abi_version() returns 99
 *   FIXTURE_NO_VERSION  pmap_plugin_abi_version is missing
 *   FIXTURE_NO_INIT     pmap_plugin_init is missing
 *   FIXTURE_NULL_INIT   pmap_plugin_init returns NULL
 *   FIXTURE_NO_COLUMNS  a kernel declares no columns
 *   FIXTURE_BAD_DEFAULT an argument's default does not parse
 *   FIXTURE_CLASH       a kernel is called "pi", like a built-in one
 */
#include <pmap/plugin_abi.h>
#include <stdio.h>
#include <string.h>

static int marker; /* user_data of fixture_args */

/* Echoes its arguments: count (int), ratio (double), flag (bool), label (string length). */
static int fixture_args(void* user, const pmap_item* item, const pmap_arg_value* args,
                        size_t n_args, double* out, size_t n_out, const pmap_context* ctx,
                        char* error, size_t error_size) {
  (void)ctx;
  (void)error;
  (void)error_size;
  if (user != (void*)&marker || n_args != 4 || n_out != 6) return 9;
  out[0] = (double)args[0].i;
  out[1] = args[1].d;
  out[2] = (double)args[2].i;
  out[3] = (double)strlen(args[3].s);
  out[4] = (double)item->value;
  out[5] = (double)item->text_size + 1000.0 * item->from_input + 1e6 * (double)item->row;
  return 0;
}

/* Waits until pmap says stop, then reports how many polls it took. */
static int fixture_wait(void* user, const pmap_item* item, const pmap_arg_value* args,
                        size_t n_args, double* out, size_t n_out, const pmap_context* ctx,
                        char* error, size_t error_size) {
  (void)user;
  (void)item;
  (void)args;
  (void)n_args;
  (void)n_out;
  (void)error;
  (void)error_size;
  double polls = 0;
  while (!ctx->should_stop(ctx)) {
    polls += 1;
    if (polls > 1e10) return 1;
  }
  out[0] = polls;
  return 0;
}

/* Fails: with a message for odd items, without one for even items. */
static int fixture_fail(void* user, const pmap_item* item, const pmap_arg_value* args,
                        size_t n_args, double* out, size_t n_out, const pmap_context* ctx,
                        char* error, size_t error_size) {
  (void)user;
  (void)args;
  (void)n_args;
  (void)out;
  (void)n_out;
  (void)ctx;
  if (item->value % 2 != 0) snprintf(error, error_size, "odd item %lld", (long long)item->value);
  return 4;
}

static const pmap_arg_spec args_spec[] = {
    {"count", PMAP_ARG_INT, "3", "an int"},
    {"ratio", PMAP_ARG_DOUBLE, "0.5", "a double"},
    {"flag", PMAP_ARG_BOOL, "false", "a bool"},
#ifdef FIXTURE_BAD_DEFAULT
    {"label", PMAP_ARG_STRING, "abc", "a string"},
};
static const pmap_arg_spec bad_spec[] = {{"n", PMAP_ARG_INT, "twelve", "an int"}};
#else
    {"label", PMAP_ARG_STRING, "abc", "a string"},
};
#endif
static const char* const args_columns[] = {"count", "ratio", "flag", "label_len", "value", "text"};
static const char* const one_column[] = {"v"};

#ifdef FIXTURE_FIELDS
PMAP_PLUGIN_DECLARE_ABI_MINOR()
#endif

/* out = {number of fields (-1: this plugin does not read them), sum of the numeric ones,
 *        length of the string ones}. */
static int fixture_fields(void* user, const pmap_item* item, const pmap_arg_value* args,
                          size_t n_args, double* out, size_t n_out, const pmap_context* ctx,
                          char* error, size_t error_size) {
  (void)user, (void)args, (void)n_args, (void)n_out, (void)ctx, (void)error, (void)error_size;
  out[0] = -1;
  out[1] = 0;
  out[2] = 0;
#ifdef FIXTURE_FIELDS
  if (PMAP_ITEM_HAS_FIELDS()) {
    out[0] = (double)item->n_fields;
    for (size_t i = 0; i < item->n_fields; ++i) {
      if (item->fields[i].type == PMAP_FIELD_STRING) {
        out[2] += (double)strlen(item->fields[i].s);
      } else {
        out[1] += item->fields[i].d;
      }
    }
  }
#else
  (void)item;
#endif
  return 0;
}
static const char* const fields_columns[] = {"n", "sum", "text"};
#ifndef FIXTURE_FIELDS
static const void* unused_fields_kernel[] = {(const void*)fixture_fields, fields_columns};
#endif

static const pmap_kernel_def kernels[] = {
#ifdef FIXTURE_FIELDS
    {"fixture_fields", "reads the item's fields", NULL, 0, fields_columns, 3, fixture_fields, NULL},
#endif
#ifdef FIXTURE_CLASH
    {"pi", "clashes with the built-in pi", NULL, 0, one_column, 1, fixture_fail, NULL},
#endif
    {"fixture_args", "echoes its arguments", args_spec, 4, args_columns, 6, fixture_args, &marker},
    {"fixture_wait", "waits for should_stop", NULL, 0, one_column, 1, fixture_wait, NULL},
#ifdef FIXTURE_NO_COLUMNS
    {"fixture_fail", "fails", NULL, 0, one_column, 0, fixture_fail, NULL},
#elif defined(FIXTURE_BAD_DEFAULT)
    {"fixture_fail", "fails", bad_spec, 1, one_column, 1, fixture_fail, NULL},
#else
    {"fixture_fail", "fails", NULL, 0, one_column, 1, fixture_fail, NULL},
#endif
};

static const pmap_plugin plugin = {
    PMAP_PLUGIN_ABI_VERSION,           sizeof(pmap_plugin), "fixture", "0.1", kernels,
    sizeof kernels / sizeof kernels[0]};

#if defined(FIXTURE_ABI_99)
PMAP_PLUGIN_EXPORT uint32_t pmap_plugin_abi_version(void) { return 99; }
#elif !defined(FIXTURE_NO_VERSION)
PMAP_PLUGIN_DECLARE_ABI_VERSION()
#endif

#ifndef FIXTURE_NO_INIT
PMAP_PLUGIN_EXPORT const pmap_plugin* pmap_plugin_init(void) {
#ifdef FIXTURE_NULL_INIT
  return NULL;
#else
  return &plugin;
#endif
}
#endif
