/* pmap — the kernel plugin ABI (version 1.1: 1 plus item fields): plain C structs and function
 * pointers.
 *
 * A plugin is a shared library that exports two functions and needs nothing else from pmap (it
 * does not link pmap; this header is all it includes), so it may be built by another compiler,
 * in C or in any language with a C ABI. pmap first calls pmap_plugin_abi_version() and refuses
 * the library unless it returns the version pmap was built with; only then does it call
 * pmap_plugin_init() and read the structs below.
 *
 *   #include <pmap/plugin_abi.h>
 *
 *   static int square(void* user, const pmap_item* item, const pmap_arg_value* args,
 *                     size_t n_args, double* out, size_t n_out, const pmap_context* ctx,
 *                     char* error, size_t error_size) {
 *     out[0] = (double)item->value * (double)item->value * args[0].d;
 *     return 0;                              // non-zero fails the item, with `error` as message
 *   }
 *   static const pmap_arg_spec args[] = {{"scale", PMAP_ARG_DOUBLE, "1", "multiplies x^2"}};
 *   static const char* const columns[] = {"square"};
 *   static const pmap_kernel_def kernels[] = {
 *       {"square", "x^2 times scale", args, 1, columns, 1, square, NULL}};
 *   static const pmap_plugin plugin = {PMAP_PLUGIN_ABI_VERSION, sizeof(pmap_plugin),
 *                                      "example", "1.0", kernels, 1};
 *   PMAP_PLUGIN_DECLARE_ABI_VERSION()
 *   PMAP_PLUGIN_EXPORT const pmap_plugin* pmap_plugin_init(void) { return &plugin; }
 *
 * Build:  cc -shared -fPIC -O2 -I<prefix>/include square.c -o libsquare.so
 *   (or in CMake: target_link_libraries(square PRIVATE pmap::plugin_abi))
 * Use:    pmap kernels --plugin ./libsquare.so
 *         mpirun -np 4 pmap run --plugin ./libsquare.so --kernel square --range 0:1000
 *
 * Rules: run() is called concurrently from many threads (it must be thread-safe) and must not
 * let a C++ exception or a longjmp cross it; it must be deterministic (the value may depend only
 * on the item and the arguments). Everything the plugin returns from pmap_plugin_init() must
 * stay valid until the process exits (static storage is the simple way).
 */
#ifndef PMAP_PLUGIN_ABI_H
#define PMAP_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

/* The ABI version this header describes. Any change to the structs or signatures below that is
 * not an addition at the end of pmap_plugin (guarded by struct_size) bumps it. */
#define PMAP_PLUGIN_ABI_VERSION 1u

/* Names of the two exported functions (what pmap looks up with dlsym). */
#define PMAP_PLUGIN_ABI_VERSION_SYMBOL "pmap_plugin_abi_version"
#define PMAP_PLUGIN_INIT_SYMBOL "pmap_plugin_init"

#if defined(__GNUC__) || defined(__clang__)
#define PMAP_PLUGIN_VISIBLE __attribute__((visibility("default")))
#else
#define PMAP_PLUGIN_VISIBLE
#endif
#ifdef __cplusplus
#define PMAP_PLUGIN_EXPORT extern "C" PMAP_PLUGIN_VISIBLE
#else
#define PMAP_PLUGIN_EXPORT PMAP_PLUGIN_VISIBLE
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Types of kernel arguments (pmap_arg_spec.type, pmap_arg_value.type). */
#define PMAP_ARG_INT 0
#define PMAP_ARG_DOUBLE 1
#define PMAP_ARG_STRING 2
#define PMAP_ARG_BOOL 3

/* One declared argument. pmap parses `--arg name=value` and the default with the same rules:
 * int: a decimal integer; double: a finite number; bool: true/false/1/0/yes/no; string: as is. */
typedef struct pmap_arg_spec {
  const char* name;          /* [A-Za-z0-9_]+ */
  int32_t type;              /* PMAP_ARG_* */
  const char* default_value; /* as text, e.g. "1000", "0.5", "true", "" */
  const char* help;          /* one line for `pmap kernels` */
} pmap_arg_spec;

/* One bound argument, passed to run() in the order of the kernel's pmap_arg_spec array. */
typedef struct pmap_arg_value {
  const char* name;
  int32_t type;  /* PMAP_ARG_* */
  int64_t i;     /* PMAP_ARG_INT; PMAP_ARG_BOOL as 0 or 1 */
  double d;      /* PMAP_ARG_DOUBLE (also set, converted, for PMAP_ARG_INT) */
  const char* s; /* PMAP_ARG_STRING, NUL-terminated; "" for the other types, never NULL */
} pmap_arg_value;

/* Types of item fields (pmap_field.type). */
#define PMAP_FIELD_INT 0
#define PMAP_FIELD_FLOAT 1
#define PMAP_FIELD_STRING 2

/* One named field of an item (ABI 1.1). */
typedef struct pmap_field {
  const char* name; /* NUL-terminated */
  int32_t type;     /* PMAP_FIELD_* */
  int64_t i;        /* PMAP_FIELD_INT */
  double d;         /* PMAP_FIELD_FLOAT (also set, converted, for PMAP_FIELD_INT) */
  const char* s;    /* the value as text, NUL-terminated, for every type */
} pmap_field;

/* The minor version of the ABI this header describes: 1 adds pmap_item's fields. */
#define PMAP_PLUGIN_ABI_MINOR 1u
/* Optional: `uint32_t pmap_plugin_abi_minor(uint32_t host_minor)`. pmap 1.1 and later call it
 * before pmap_plugin_init() with their minor version; a plugin that never hears from it runs in
 * an older pmap and must not read pmap_item's fields. PMAP_PLUGIN_DECLARE_ABI_MINOR() defines it
 * and PMAP_ITEM_HAS_FIELDS() tells whether the fields are there. */
#define PMAP_PLUGIN_ABI_MINOR_SYMBOL "pmap_plugin_abi_minor"

/* The item being computed. */
typedef struct pmap_item {
  uint64_t row;       /* 0-based row of /compute */
  int64_t value;      /* the range value, or the 1-based line number of an --input item */
  const char* text;   /* the --input line, NUL-terminated; "" for ranges */
  size_t text_size;   /* strlen(text) */
  int32_t from_input; /* 1 for --input items, 0 for ranges */
  /* ABI 1.1, appended: the item's named fields (a grid's axes, a table's columns). Read them
   * only when PMAP_ITEM_HAS_FIELDS() is true: a pmap older than 1.1 passes the struct without
   * them (see PMAP_PLUGIN_DECLARE_ABI_MINOR). */
  size_t n_fields;
  const struct pmap_field* fields;
} pmap_item;

/* What run() may ask pmap while it works. */
typedef struct pmap_context {
  /* Returns 1 once the item should stop early (--item-timeout passed, or the job is stopping):
   * return from run() soon; the result is then discarded. */
  int (*should_stop)(const struct pmap_context* ctx);
  const void* host; /* pmap's; do not touch */
} pmap_context;

/* Computes one item into out[0 .. n_out) (n_out is the kernel's number of columns).
 * Returns 0 on success; any other value fails the item (status 1), with the NUL-terminated
 * message written into error[0 .. error_size) recorded in /compute/errors. */
typedef int (*pmap_run_fn)(void* user_data, const pmap_item* item, const pmap_arg_value* args,
                           size_t n_args, double* out, size_t n_out, const pmap_context* ctx,
                           char* error, size_t error_size);

/* One kernel of a plugin. */
typedef struct pmap_kernel_def {
  const char* name;        /* the --kernel name; must not clash with another kernel */
  const char* description; /* one line for `pmap kernels` */
  const pmap_arg_spec* args;
  size_t n_args;
  const char* const* columns; /* names of the output columns (at least one) */
  size_t n_columns;
  pmap_run_fn run;
  void* user_data; /* passed to run() as is */
} pmap_kernel_def;

/* What pmap_plugin_init() returns. */
typedef struct pmap_plugin {
  uint32_t abi_version; /* PMAP_PLUGIN_ABI_VERSION */
  uint32_t struct_size; /* sizeof(pmap_plugin) */
  const char* name;     /* of the plugin, for messages */
  const char* version;  /* of the plugin, for messages */
  const pmap_kernel_def* kernels;
  size_t n_kernels;
} pmap_plugin;

/* The two functions every plugin exports. */
typedef uint32_t (*pmap_plugin_abi_version_fn)(void);
typedef const pmap_plugin* (*pmap_plugin_init_fn)(void);

/* Defines pmap_plugin_abi_minor() (the handshake of ABI 1.1): put it next to
 * PMAP_PLUGIN_DECLARE_ABI_VERSION() in a plugin that reads item fields. */
#define PMAP_PLUGIN_DECLARE_ABI_MINOR()                                    \
  static uint32_t pmap_host_abi_minor_ = 0;                                \
  PMAP_PLUGIN_EXPORT uint32_t pmap_plugin_abi_minor(uint32_t host_minor) { \
    pmap_host_abi_minor_ = host_minor;                                     \
    return PMAP_PLUGIN_ABI_MINOR;                                          \
  }
/* True when pmap passed the item's fields (n_fields may still be 0: a range has none). */
#define PMAP_ITEM_HAS_FIELDS() (pmap_host_abi_minor_ >= 1u)

#ifdef __cplusplus
}
#endif

/* Defines pmap_plugin_abi_version(), returning the version of the header the plugin is built
 * with. Put it once in a plugin's source file. */
#define PMAP_PLUGIN_DECLARE_ABI_VERSION() \
  PMAP_PLUGIN_EXPORT uint32_t pmap_plugin_abi_version(void) { return PMAP_PLUGIN_ABI_VERSION; }

#endif /* PMAP_PLUGIN_ABI_H */
