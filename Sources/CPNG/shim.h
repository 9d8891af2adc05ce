#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* Writing a PNG to memory with libpng's error handling kept in C: libpng reports errors by
   longjmp, which must not cross Swift frames. dwc_png_encode catches them here and returns -1
   with the message; Swift only sees return codes. */

typedef struct {
    unsigned char *data;
    size_t size;
    size_t capacity;
} dwc_png_buffer;

typedef struct {
    jmp_buf jump;
    char message[256];
} dwc_png_error_state;

static inline void dwc_png_error(png_structp png, png_const_charp message) {
    dwc_png_error_state *state = (dwc_png_error_state *)png_get_error_ptr(png);
    strncpy(state->message, message ? message : "libpng error", sizeof state->message - 1);
    state->message[sizeof state->message - 1] = 0;
    longjmp(state->jump, 1);
}

static inline void dwc_png_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static inline void dwc_png_write(png_structp png, png_bytep bytes, size_t length) {
    dwc_png_buffer *buffer = (dwc_png_buffer *)png_get_io_ptr(png);
    if (buffer->size + length > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 65536;
        while (capacity < buffer->size + length) capacity *= 2;
        unsigned char *grown = (unsigned char *)realloc(buffer->data, capacity);
        if (!grown) png_error(png, "out of memory");
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, bytes, length);
    buffer->size += length;
}

static inline void dwc_png_flush(png_structp png) { (void)png; }

/* Encodes width x height pixels of `channels` (1 gray, 3 RGB) samples of `bit_depth` (8 or 16;
   16-bit samples little endian), rows `stride` bytes apart. On success returns 0 and sets
   *out (free with dwc_png_free) and *out_size; on failure returns -1 with message filled. */
static inline int dwc_png_encode(const unsigned char *pixels, unsigned width, unsigned height, int channels,
                                 int bit_depth, size_t stride, int compression_level, int filters,
                                 unsigned char **out, size_t *out_size, char *message, size_t message_size) {
    dwc_png_error_state *state = (dwc_png_error_state *)calloc(1, sizeof(dwc_png_error_state));
    dwc_png_buffer *buffer = (dwc_png_buffer *)calloc(1, sizeof(dwc_png_buffer));
    png_bytep *rows = (png_bytep *)calloc(height ? height : 1, sizeof(png_bytep));
    png_structp png = NULL;
    png_infop info = NULL;
    int result = -1;
    *out = NULL;
    *out_size = 0;
    if (!state || !buffer || !rows) {
        strncpy(message, "out of memory", message_size - 1);
        goto done;
    }
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, state, dwc_png_error, dwc_png_warning);
    if (!png) {
        strncpy(message, "png_create_write_struct failed", message_size - 1);
        goto done;
    }
    info = png_create_info_struct(png);
    if (!info) {
        strncpy(message, "png_create_info_struct failed", message_size - 1);
        goto done;
    }
    if (setjmp(state->jump)) {
        strncpy(message, state->message, message_size - 1);
        goto done;
    }
    png_set_write_fn(png, buffer, dwc_png_write, dwc_png_flush);
    png_set_IHDR(png, info, width, height, bit_depth, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, compression_level);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, filters);
    png_write_info(png, info);
    if (bit_depth == 16) png_set_swap(png);
    for (unsigned y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * stride);
    png_write_image(png, rows);
    png_write_end(png, info);
    *out = buffer->data;
    *out_size = buffer->size;
    buffer->data = NULL;
    result = 0;
done:
    if (png) png_destroy_write_struct(&png, info ? &info : NULL);
    if (buffer) free(buffer->data);
    free(buffer);
    free(rows);
    free(state);
    if (message_size) message[message_size - 1] = 0;
    return result;
}

static inline void dwc_png_free(unsigned char *data) { free(data); }
