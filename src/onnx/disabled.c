/* The onnx layer of a build without protobuf-c (or without onnx.proto): every call fails
 * with CLGRAD_ERR_UNSUPPORTED and says how to get ONNX support. */
#include "core/core.h"

#include <stdlib.h>

#define NO_ONNX "clgrad was built without ONNX support (install libprotobuf-c-dev, protobuf-c-compiler and " \
                "libonnx-dev, then reconfigure)"

CLGRAD_API int clgrad_onnx_available(void) { return 0; }

CLGRAD_API clgrad_status clgrad_onnx_load(clgrad_context *ctx, const char *path, const clgrad_onnx_options *opts,
                                          clgrad_onnx_model **out)
{
    (void)path, (void)opts;
    if (out) *out = NULL;
    return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED, "clgrad_onnx_load: %s", NO_ONNX);
}

CLGRAD_API clgrad_status clgrad_onnx_load_memory(clgrad_context *ctx, const void *data, size_t size,
                                                 const clgrad_onnx_options *opts, clgrad_onnx_model **out)
{
    (void)data, (void)size, (void)opts;
    if (out) *out = NULL;
    return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED, "clgrad_onnx_load_memory: %s", NO_ONNX);
}

CLGRAD_API void clgrad_onnx_release(clgrad_onnx_model *m) { (void)m; }
CLGRAD_API int clgrad_onnx_input_count(const clgrad_onnx_model *m) { (void)m; return 0; }
CLGRAD_API int clgrad_onnx_output_count(const clgrad_onnx_model *m) { (void)m; return 0; }

CLGRAD_API clgrad_status clgrad_onnx_input(const clgrad_onnx_model *m, int i, clgrad_onnx_io *info)
{
    (void)m, (void)i, (void)info;
    return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "clgrad_onnx_input: %s", NO_ONNX);
}

CLGRAD_API clgrad_status clgrad_onnx_output(const clgrad_onnx_model *m, int i, clgrad_onnx_io *info)
{
    (void)m, (void)i, (void)info;
    return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "clgrad_onnx_output: %s", NO_ONNX);
}

CLGRAD_API clgrad_status clgrad_onnx_get_stats(const clgrad_onnx_model *m, clgrad_onnx_stats *out)
{
    (void)m, (void)out;
    return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "clgrad_onnx_get_stats: %s", NO_ONNX);
}

CLGRAD_API clgrad_status clgrad_onnx_run(clgrad_onnx_model *m, int n_in, clgrad_tensor *const *inputs, int n_out,
                                         clgrad_tensor **outputs)
{
    (void)m, (void)n_in, (void)inputs;
    for (int i = 0; outputs && i < n_out; i++) outputs[i] = NULL;
    return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "clgrad_onnx_run: %s", NO_ONNX);
}

CLGRAD_API clgrad_status clgrad_onnx_run_host(clgrad_onnx_model *m, int n_in, const clgrad_onnx_array *inputs,
                                              int n_out, clgrad_onnx_array *outputs)
{
    (void)m, (void)n_in, (void)inputs, (void)n_out, (void)outputs;
    return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "clgrad_onnx_run_host: %s", NO_ONNX);
}

CLGRAD_API clgrad_status clgrad_onnx_export(const clgrad_module *m, const clgrad_onnx_export_options *opts,
                                            const char *path)
{
    (void)m, (void)opts, (void)path;
    return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "clgrad_onnx_export: %s", NO_ONNX);
}

CLGRAD_API clgrad_status clgrad_onnx_export_memory(const clgrad_module *m, const clgrad_onnx_export_options *opts,
                                                   void **data, size_t *size)
{
    (void)m, (void)opts;
    if (data) *data = NULL;
    if (size) *size = 0;
    return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "clgrad_onnx_export_memory: %s", NO_ONNX);
}

CLGRAD_API void clgrad_onnx_free(void *data) { free(data); }

CLGRAD_API void clgrad_onnx_profile_enable(clgrad_onnx_model *m, int on) { (void)m, (void)on; }

CLGRAD_API int clgrad_onnx_profile(const clgrad_onnx_model *m, clgrad_onnx_node_time *out, int cap)
{
    (void)m, (void)out, (void)cap;
    return 0;
}
