#ifndef DWC_CCHARLS_H
#define DWC_CCHARLS_H

// CharLS (JPEG-LS) loaded on first use with dlopen rather than linked: its static initialisers
// (decoding tables) cost every dwc process about 3 M instructions at start-up, and only the
// decoding of JPEG-LS frames needs it. The types come from CharLS's own header.
#include <charls/charls.h>

/// Loads libcharls once (thread-safe). 0 when ready; else -1, and dwc_charls_load_error() says why.
int dwc_charls_load(void);
const char *dwc_charls_load_error(void);

charls_jpegls_decoder *dwc_charls_decoder_create(void);
void dwc_charls_decoder_destroy(const charls_jpegls_decoder *decoder);
charls_jpegls_errc dwc_charls_decoder_set_source_buffer(charls_jpegls_decoder *decoder, const void *source, size_t size);
charls_jpegls_errc dwc_charls_decoder_read_header(charls_jpegls_decoder *decoder);
charls_jpegls_errc dwc_charls_decoder_get_frame_info(const charls_jpegls_decoder *decoder, charls_frame_info *info);
charls_jpegls_errc dwc_charls_decoder_get_interleave_mode(const charls_jpegls_decoder *decoder, charls_interleave_mode *mode);
charls_jpegls_errc dwc_charls_decoder_get_destination_size(const charls_jpegls_decoder *decoder, uint32_t stride, size_t *size);
charls_jpegls_errc dwc_charls_decoder_decode_to_buffer(charls_jpegls_decoder *decoder, void *destination, size_t size, uint32_t stride);
const char *dwc_charls_error_message(charls_jpegls_errc code);
/// 0.0.0 when the library cannot be loaded.
void dwc_charls_version(int32_t *major, int32_t *minor, int32_t *patch);

#endif
