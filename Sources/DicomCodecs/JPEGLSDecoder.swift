import CCharLS

/// JPEG-LS Lossless (1.2.840.10008.1.2.4.80) and Near-Lossless (1.2.840.10008.1.2.4.81) through
/// CharLS, from memory.
///
/// The header is read and checked against the description (size, components, bits per sample)
/// before decoding into a buffer of the size CharLS asks for. Planar (interleave mode none)
/// output is interleaved. JPEG-LS has no signedness: for Pixel Representation 1 the samples are
/// sign-extended from the codestream's bits per sample, as pydicom does.
public struct JPEGLSDecoder: PixelDecoder {
    public init() {}

    static let library = "CharLS"

    public func decode(_ frame: [UInt8], description d: PixelDescription) throws -> DecodedFrame {
        guard frame.count >= 4 else { throw CodecError.corrupt("JPEG-LS frame of \(frame.count) bytes") }
        guard let decoder = dwc_charls_decoder_create() else {
            let reason = dwc_charls_load() == 0 ? "cannot create a decoder" : String(cString: dwc_charls_load_error())
            throw CodecError.libraryError(library: Self.library, message: reason)
        }
        defer { dwc_charls_decoder_destroy(decoder) }
        func check(_ code: charls_jpegls_errc, _ what: String) throws {
            guard code == CHARLS_JPEGLS_ERRC_SUCCESS else {
                throw CodecError.corrupt("\(Self.library) \(what): \(String(cString: dwc_charls_error_message(code)))")
            }
        }
        return try frame.withUnsafeBytes { source in
            try check(dwc_charls_decoder_set_source_buffer(decoder, source.baseAddress!, source.count), "source")
            try check(dwc_charls_decoder_read_header(decoder), "header")
            var info = charls_frame_info()
            try check(dwc_charls_decoder_get_frame_info(decoder, &info), "frame info")
            guard Int(info.width) == d.columns, Int(info.height) == d.rows else {
                throw CodecError.corrupt("JPEG-LS frame is \(info.width)×\(info.height), the description says \(d.columns)×\(d.rows)")
            }
            guard Int(info.component_count) == d.samplesPerPixel else {
                throw CodecError.corrupt("JPEG-LS frame has \(info.component_count) components, the description \(d.samplesPerPixel) samples per pixel")
            }
            let precision = Int(info.bits_per_sample)
            guard precision >= 2, precision <= 16, precision <= d.bitsAllocated else {
                throw CodecError.corrupt("JPEG-LS bits per sample \(precision) with Bits Allocated \(d.bitsAllocated)")
            }
            var interleave = CHARLS_INTERLEAVE_MODE_NONE
            try check(dwc_charls_decoder_get_interleave_mode(decoder, &interleave), "interleave mode")
            let sourceBytes = precision <= 8 ? 1 : 2
            let expected = d.pixelCount * d.samplesPerPixel * sourceBytes
            var size = 0
            try check(dwc_charls_decoder_get_destination_size(decoder, 0, &size), "destination size")
            guard size == expected else {
                throw CodecError.corrupt("JPEG-LS decoded size \(size) differs from the \(expected) bytes expected")
            }
            var samples = [UInt8](repeating: 0, count: expected)
            try samples.withUnsafeMutableBytes { dst in
                try check(dwc_charls_decoder_decode_to_buffer(decoder, dst.baseAddress!, dst.count, 0), "decode")
            }
            var operations: [DecodeOperation] = []
            if d.samplesPerPixel > 1 && interleave == CHARLS_INTERLEAVE_MODE_NONE {
                samples = samples.withUnsafeBytes {
                    SampleBuffers.interleave($0, pixels: d.pixelCount, components: d.samplesPerPixel, bytesPerSample: sourceBytes)
                }
                operations.append(.planarToInterleaved)
            }
            let bps = d.bytesPerSample
            if bps > sourceBytes {
                samples = SampleBuffers.widen(samples, fromBytes: sourceBytes, toBytes: bps, signed: false)
                operations.append(.widened(toBytes: bps))
            }
            // Signed data is stored as unsigned of `precision` bits.
            let bits = precision
            if let op = SampleBuffers.correctUnusedBits(&samples, bytesPerSample: bps, bits: bits, signed: d.isSigned) {
                operations.append(op)
            }
            return DecodedFrame(rows: d.rows, columns: d.columns, samplesPerPixel: d.samplesPerPixel, bytesPerSample: bps,
                                bitsStored: bits, isSigned: d.isSigned,
                                photometricInterpretation: d.photometricInterpretation, samples: samples, operations: operations)
        }
    }
}
