#include "CCharLS.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// The CharLS functions dwc uses, resolved from the loaded library.
static struct {
    charls_jpegls_decoder *(*create)(void);
    void (*destroy)(const charls_jpegls_decoder *);
    charls_jpegls_errc (*set_source_buffer)(charls_jpegls_decoder *, const void *, size_t);
    charls_jpegls_errc (*read_header)(charls_jpegls_decoder *);
    charls_jpegls_errc (*get_frame_info)(const charls_jpegls_decoder *, charls_frame_info *);
    charls_jpegls_errc (*get_interleave_mode)(const charls_jpegls_decoder *, charls_interleave_mode *);
    charls_jpegls_errc (*get_destination_size)(const charls_jpegls_decoder *, uint32_t, size_t *);
    charls_jpegls_errc (*decode_to_buffer)(charls_jpegls_decoder *, void *, size_t, uint32_t);
    const char *(*error_message)(charls_jpegls_errc);
    void (*version)(int32_t *, int32_t *, int32_t *);
} charls;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded = 0;
static char load_error[512] = "libcharls not loaded yet";

static void load(void) {
    // The SONAME of CharLS 2.x (Debian: libcharls2); the unversioned name is the -dev link.
    void *library = dlopen("libcharls.so.2", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) library = dlopen("libcharls.so", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *why = dlerror();
        snprintf(load_error, sizeof load_error, "cannot load libcharls (apt install libcharls2): %s", why ? why : "not found");
        return;
    }
#define RESOLVE(field, symbol)                                                                     \
    do {                                                                                           \
        *(void **)(&charls.field) = dlsym(library, symbol);                                        \
        if (charls.field == NULL) {                                                                \
            snprintf(load_error, sizeof load_error, "libcharls lacks %s (too old?)", symbol);     \
            return;                                                                                \
        }                                                                                          \
    } while (0)
    RESOLVE(create, "charls_jpegls_decoder_create");
    RESOLVE(destroy, "charls_jpegls_decoder_destroy");
    RESOLVE(set_source_buffer, "charls_jpegls_decoder_set_source_buffer");
    RESOLVE(read_header, "charls_jpegls_decoder_read_header");
    RESOLVE(get_frame_info, "charls_jpegls_decoder_get_frame_info");
    RESOLVE(get_interleave_mode, "charls_jpegls_decoder_get_interleave_mode");
    RESOLVE(get_destination_size, "charls_jpegls_decoder_get_destination_size");
    RESOLVE(decode_to_buffer, "charls_jpegls_decoder_decode_to_buffer");
    RESOLVE(error_message, "charls_get_error_message");
    RESOLVE(version, "charls_get_version_number");
#undef RESOLVE
    loaded = 1;
    load_error[0] = 0;
}

int dwc_charls_load(void) {
    pthread_once(&load_once, load);
    return loaded ? 0 : -1;
}

const char *dwc_charls_load_error(void) {
    dwc_charls_load();
    return load_error;
}

charls_jpegls_decoder *dwc_charls_decoder_create(void) { return dwc_charls_load() == 0 ? charls.create() : NULL; }
void dwc_charls_decoder_destroy(const charls_jpegls_decoder *decoder) { if (loaded && decoder) charls.destroy(decoder); }

charls_jpegls_errc dwc_charls_decoder_set_source_buffer(charls_jpegls_decoder *decoder, const void *source, size_t size) {
    return charls.set_source_buffer(decoder, source, size);
}
charls_jpegls_errc dwc_charls_decoder_read_header(charls_jpegls_decoder *decoder) { return charls.read_header(decoder); }
charls_jpegls_errc dwc_charls_decoder_get_frame_info(const charls_jpegls_decoder *decoder, charls_frame_info *info) {
    return charls.get_frame_info(decoder, info);
}
charls_jpegls_errc dwc_charls_decoder_get_interleave_mode(const charls_jpegls_decoder *decoder, charls_interleave_mode *mode) {
    return charls.get_interleave_mode(decoder, mode);
}
charls_jpegls_errc dwc_charls_decoder_get_destination_size(const charls_jpegls_decoder *decoder, uint32_t stride, size_t *size) {
    return charls.get_destination_size(decoder, stride, size);
}
charls_jpegls_errc dwc_charls_decoder_decode_to_buffer(charls_jpegls_decoder *decoder, void *destination, size_t size, uint32_t stride) {
    return charls.decode_to_buffer(decoder, destination, size, stride);
}
const char *dwc_charls_error_message(charls_jpegls_errc code) { return loaded ? charls.error_message(code) : load_error; }

void dwc_charls_version(int32_t *major, int32_t *minor, int32_t *patch) {
    if (dwc_charls_load() == 0) {
        charls.version(major, minor, patch);
    } else {
        *major = 0; *minor = 0; *patch = 0;
    }
}
