/*
 * A stand-in for the CUDA driver library (libcuda.so) on machines without one, for tests/gpu.rs.
 * Each function has the driver API's signature; cudarc looks them up by name. TRUENO_STUB_CUDA
 * picks what it plays:
 *   none     a driver without devices, as a real one answers in a container without a GPU
 *            (cuInit returns CUDA_ERROR_NO_DEVICE);
 *   old      one device of compute capability 6.1, older than the PTX's sm_70;
 *   jit      one device of compute capability 9.0 whose JIT refuses every module
 *            (CUDA_ERROR_INVALID_PTX);
 *   emulate  one device of compute capability 9.0 whose memory is host memory and whose kernel
 *            launches call the launcher that the test registers with trueno_stub_set_launcher:
 *            the test runs the kernels' bodies there, so the whole host path (cudarc, buffers,
 *            copies, launches, results) runs for real, only on the CPU;
 *   pools    the same with stream-ordered allocation (cuMemAllocAsync), which real devices since
 *            CUDA 11.2 have and cudarc then uses.
 * It exports exactly the functions of DRIVER_FUNCTIONS (std-adapter/src/gpu/device.rs), so the
 * emulated runs prove that cudarc calls nothing beyond that list (it would panic on a missing one).
 * Compiled with -DOMIT_ALLOC_ASYNC it plays a driver older than CUDA 11.2, which lacks
 * cuMemAllocAsync: cudarc would panic on the missing symbol, so the backend must notice first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef int (*launcher_fn)(const char *kernel, unsigned grid, unsigned block, void **params);

enum { SUCCESS = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, NOT_INITIALIZED = 3, NO_DEVICE = 100,
       INVALID_DEVICE = 101, INVALID_PTX = 218, NOT_FOUND = 500, LAUNCH_FAILED = 719 };

static launcher_fn launcher = 0;
static void *current = 0;
static int context_handle, module_handle, stream_handle;

static const char *mode(void) {
    const char *m = getenv("TRUENO_STUB_CUDA");
    return m ? m : "none";
}
static int is_mode(const char *m) { return strcmp(mode(), m) == 0; }
static int has_device(void) { return !is_mode("none"); }
static int emulates(void) { return is_mode("emulate") || is_mode("pools"); }

void trueno_stub_set_launcher(launcher_fn f) { launcher = f; }

CUresult cuInit(unsigned int flags) { (void)flags; return has_device() ? SUCCESS : NO_DEVICE; }
CUresult cuDeviceGetCount(int *count) {
    *count = has_device();
    return has_device() ? SUCCESS : NOT_INITIALIZED;
}
CUresult cuDeviceGet(int *device, int ordinal) {
    *device = 0;
    return ordinal == 0 ? SUCCESS : INVALID_DEVICE;
}
CUresult cuDevicePrimaryCtxRetain(void **context, int device) {
    (void)device;
    *context = &context_handle;
    return SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease_v2(int device) { (void)device; return SUCCESS; }
CUresult cuCtxGetCurrent(void **context) { *context = current; return SUCCESS; }
CUresult cuCtxSetCurrent(void *context) { current = context; return SUCCESS; }
CUresult cuCtxSynchronize(void) { return SUCCESS; }
CUresult cuDeviceGetName(char *name, int len, int device) {
    (void)device;
    strncpy(name, "Stub GPU", (size_t)len);
    return SUCCESS;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
    (void)device;
    switch (attribute) {
        case 16: *value = 4; break;                      /* multiprocessors */
        case 75: *value = is_mode("old") ? 6 : 9; break; /* compute capability, major */
        case 76: *value = is_mode("old") ? 1 : 0; break; /* compute capability, minor */
        case 115: *value = is_mode("pools"); break;      /* memory pools */
        default: *value = 0; break;                      /* no memory pools, ... */
    }
    return SUCCESS;
}

CUresult cuModuleLoadData(void **module, const void *image) {
    /* The emulated JIT accepts the module only if it is our PTX with its kernels. */
    if (!emulates() || !strstr((const char *)image, ".entry trueno_lz4_compress_pages("))
        return INVALID_PTX;
    *module = &module_handle;
    return SUCCESS;
}
CUresult cuModuleUnload(void *module) { (void)module; return SUCCESS; }
CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
    (void)module;
    static const char *kernels[] = { "trueno_lz4_compress_pages", "trueno_same_fill_compress_pages",
                                     "trueno_gather_wire_forms", "trueno_decompress_pages" };
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        if (strcmp(name, kernels[i]) == 0) {
            *function = (void *)kernels[i];
            return SUCCESS;
        }
    }
    return NOT_FOUND;
}

CUresult cuStreamCreate(void **stream, unsigned int flags) {
    (void)flags;
    *stream = &stream_handle;
    return SUCCESS;
}
CUresult cuStreamDestroy_v2(void *stream) { (void)stream; return SUCCESS; }
CUresult cuStreamSynchronize(void *stream) { (void)stream; return SUCCESS; }
CUresult cuStreamWaitEvent(void *stream, void *event, unsigned int flags) {
    (void)stream; (void)event; (void)flags;
    return SUCCESS;
}
CUresult cuEventCreate(void **event, unsigned int flags) {
    (void)flags;
    *event = malloc(1);
    return *event ? SUCCESS : OUT_OF_MEMORY;
}
CUresult cuEventDestroy_v2(void *event) { free(event); return SUCCESS; }
CUresult cuEventRecord(void *event, void *stream) { (void)event; (void)stream; return SUCCESS; }

static CUresult host_alloc(CUdeviceptr *pointer, size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    *pointer = (CUdeviceptr)(uintptr_t)p;
    return p ? SUCCESS : OUT_OF_MEMORY;
}
/* Each mode allows only the allocation calls its device would get. */
CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
    return is_mode("emulate") ? host_alloc(pointer, bytes) : INVALID_VALUE;
}
CUresult cuMemFree_v2(CUdeviceptr pointer) {
    free((void *)(uintptr_t)pointer);
    return is_mode("emulate") ? SUCCESS : INVALID_VALUE;
}
#ifndef OMIT_ALLOC_ASYNC
CUresult cuMemAllocAsync(CUdeviceptr *pointer, size_t bytes, void *stream) {
    (void)stream;
    return is_mode("pools") ? host_alloc(pointer, bytes) : INVALID_VALUE;
}
CUresult cuMemFreeAsync(CUdeviceptr pointer, void *stream) {
    (void)stream;
    free((void *)(uintptr_t)pointer);
    return is_mode("pools") ? SUCCESS : INVALID_VALUE;
}
#endif
CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t n, void *stream) {
    (void)stream;
    memset((void *)(uintptr_t)dst, value, n);
    return SUCCESS;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *stream) {
    (void)stream;
    memcpy((void *)(uintptr_t)dst, src, n);
    return SUCCESS;
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *stream) {
    (void)stream;
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return SUCCESS;
}

CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned shared, void *stream, void **params,
                        void **extra) {
    (void)stream;
    if (!launcher || gy != 1 || gz != 1 || by != 1 || bz != 1 || shared != 0 || extra)
        return INVALID_VALUE;
    return launcher((const char *)function, gx, bx, params) ? LAUNCH_FAILED : SUCCESS;
}

CUresult cuGetErrorString(CUresult e, const char **s) {
    *s = e == NO_DEVICE ? "no CUDA-capable device is detected"
       : e == INVALID_PTX ? "a PTX JIT compilation failed" : "stub driver error";
    return SUCCESS;
}
CUresult cuGetErrorName(CUresult e, const char **s) {
    *s = e == NO_DEVICE ? "CUDA_ERROR_NO_DEVICE"
       : e == INVALID_PTX ? "CUDA_ERROR_INVALID_PTX" : "CUDA_ERROR_UNKNOWN";
    return SUCCESS;
}
