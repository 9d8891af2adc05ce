import COpenJPEG

/// JPEG 2000 (1.2.840.10008.1.2.4.90 lossless, .91) and High-Throughput JPEG 2000
/// (1.2.840.10008.1.2.4.201, .202, .203) through OpenJPEG (2.5 decodes HTJ2K), reading the
/// frame from memory through an `opj_stream` with callbacks over the buffer. J2K codestreams
/// and JP2 files are both accepted.
///
/// The header is read first and checked against the description (image size, components,
/// no subsampling, precision within Bits Allocated) before anything is decoded. Components
/// with an inverse multi-component transform (YBR_ICT, YBR_RCT) come out as RGB, as with
/// pydicom. When the codestream's signedness disagrees with Pixel Representation, samples are
/// reinterpreted from the codestream's precision as pydicom does.
public struct JPEG2000Decoder: PixelDecoder {
    public init() {}

    static let library = "OpenJPEG"

    public func decode(_ frame: [UInt8], description d: PixelDescription) throws -> DecodedFrame {
        let j2kMagic: [UInt8] = [0xFF, 0x4F, 0xFF, 0x51]
        let jp2Magic: [UInt8] = [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]
        let format: OPJ_CODEC_FORMAT
        if frame.starts(with: j2kMagic) {
            format = OPJ_CODEC_J2K
        } else if frame.starts(with: jp2Magic) {
            format = OPJ_CODEC_JP2
        } else {
            throw CodecError.corrupt("not a JPEG 2000 codestream (no SOC/SIZ markers or JP2 signature at the start)")
        }
        return try frame.withUnsafeBytes { bytes in
            try decode(bytes, format: format, description: d)
        }
    }

    private func decode(_ bytes: UnsafeRawBufferPointer, format: OPJ_CODEC_FORMAT, description d: PixelDescription) throws -> DecodedFrame {
        let messages = OpenJPEGMessages()
        // Retained for as long as the codec may call the handlers: otherwise Swift may release
        // it after its last use in this function, while OpenJPEG still holds the pointer.
        let retained = Unmanaged.passRetained(messages)
        defer { retained.release() }
        let context = retained.toOpaque()
        let state = UnsafeMutablePointer<MemoryStreamState>.allocate(capacity: 1)
        state.initialize(to: MemoryStreamState(base: bytes.baseAddress!, size: bytes.count, offset: 0))
        defer { state.deinitialize(count: 1); state.deallocate() }

        guard let stream = opj_stream_create(Int(OPJ_J2K_STREAM_CHUNK_SIZE), 1) else {
            throw CodecError.libraryError(library: Self.library, message: "cannot create a stream")
        }
        defer { opj_stream_destroy(stream) }
        opj_stream_set_user_data(stream, UnsafeMutableRawPointer(state), nil)
        opj_stream_set_user_data_length(stream, UInt64(bytes.count))
        opj_stream_set_read_function(stream, memoryRead)
        opj_stream_set_skip_function(stream, memorySkip)
        opj_stream_set_seek_function(stream, memorySeek)

        guard let codec = opj_create_decompress(format) else {
            throw CodecError.libraryError(library: Self.library, message: "cannot create a decoder")
        }
        defer { opj_destroy_codec(codec) }
        _ = opj_set_error_handler(codec, openJPEGError, context)
        _ = opj_set_warning_handler(codec, openJPEGWarning, context)
        var parameters = opj_dparameters_t()
        opj_set_default_decoder_parameters(&parameters)
        guard opj_setup_decoder(codec, &parameters) != 0 else {
            throw CodecError.libraryError(library: Self.library, message: messages.summary("cannot set up the decoder"))
        }

        var imagePointer: UnsafeMutablePointer<opj_image_t>? = nil
        defer { if let imagePointer { opj_image_destroy(imagePointer) } }
        guard opj_read_header(stream, codec, &imagePointer) != 0, let image = imagePointer else {
            throw CodecError.corrupt("\(Self.library): \(messages.summary("cannot read the JPEG 2000 header"))")
        }
        let width = Int(image.pointee.x1) - Int(image.pointee.x0)
        let height = Int(image.pointee.y1) - Int(image.pointee.y0)
        guard width == d.columns, height == d.rows else {
            throw CodecError.corrupt("JPEG 2000 image is \(width)×\(height), the description says \(d.columns)×\(d.rows)")
        }
        let componentCount = Int(image.pointee.numcomps)
        guard componentCount == d.samplesPerPixel, let comps = image.pointee.comps else {
            throw CodecError.corrupt("JPEG 2000 image has \(componentCount) components, the description \(d.samplesPerPixel) samples per pixel")
        }
        let bps = d.bytesPerSample
        var precision = 0
        var codestreamSigned = false
        for c in 0..<componentCount {
            let comp = comps[c]
            guard comp.dx == 1, comp.dy == 1 else {
                throw CodecError.unsupported(transferSyntax: d.transferSyntaxUID, reason: "JPEG 2000 component \(c) is subsampled (\(comp.dx)×\(comp.dy))")
            }
            guard comp.prec >= 1, Int(comp.prec) <= 8 * bps else {
                throw CodecError.corrupt("JPEG 2000 component \(c) precision \(comp.prec) does not fit Bits Allocated \(d.bitsAllocated)")
            }
            precision = max(precision, Int(comp.prec))
            codestreamSigned = comp.sgnd != 0
        }

        guard opj_decode(codec, stream, image) != 0 else {
            throw CodecError.corrupt("\(Self.library): \(messages.summary("cannot decode the JPEG 2000 codestream"))")
        }
        guard opj_end_decompress(codec, stream) != 0 else {
            throw CodecError.corrupt("\(Self.library): \(messages.summary("cannot finish decoding"))")
        }
        let pixels = d.pixelCount
        for c in 0..<componentCount {
            let comp = comps[c]
            guard comp.data != nil, Int(comp.w) == width, Int(comp.h) == height else {
                throw CodecError.corrupt("JPEG 2000 component \(c) decoded to \(comp.w)×\(comp.h) samples")
            }
        }

        var samples = [UInt8](repeating: 0, count: d.decodedFrameLength)
        samples.withUnsafeMutableBytes { dst in
            for c in 0..<componentCount {
                guard let data = comps[c].data else { continue }
                var at = c * bps
                let stride = componentCount * bps
                switch bps {
                case 1:
                    for i in 0..<pixels { dst[at] = UInt8(truncatingIfNeeded: data[i]); at += stride }
                case 2:
                    for i in 0..<pixels {
                        dst.storeBytes(of: UInt16(truncatingIfNeeded: data[i]).littleEndian, toByteOffset: at, as: UInt16.self)
                        at += stride
                    }
                default:
                    for i in 0..<pixels {
                        dst.storeBytes(of: UInt32(bitPattern: data[i]).littleEndian, toByteOffset: at, as: UInt32.self)
                        at += stride
                    }
                }
            }
        }
        var operations: [DecodeOperation] = []
        var photometric = d.photometricInterpretation
        if photometric == "YBR_ICT" || photometric == "YBR_RCT" {
            operations.append(.colorConverted(from: photometric, to: "RGB", by: "OpenJPEG inverse multi-component transform"))
            photometric = "RGB"
        }
        if codestreamSigned != d.isSigned,
           let op = SampleBuffers.correctUnusedBits(&samples, bytesPerSample: bps, bits: precision, signed: d.isSigned) {
            operations.append(op)
        }
        return DecodedFrame(rows: d.rows, columns: d.columns, samplesPerPixel: componentCount, bytesPerSample: bps,
                            bitsStored: precision, isSigned: d.isSigned, photometricInterpretation: photometric,
                            samples: samples, operations: operations)
    }
}

/// The buffer an opj_stream reads from.
struct MemoryStreamState {
    var base: UnsafeRawPointer
    var size: Int
    var offset: Int
}

/// Collects OpenJPEG's error and warning messages for one decode.
final class OpenJPEGMessages {
    var errors: [String] = []
    var warnings: [String] = []

    func summary(_ fallback: String) -> String {
        let text = errors.map { $0.trimmingTrailingNewlines() }.joined(separator: "; ")
        return text.isEmpty ? fallback : text
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" || last == " " { s = s.dropLast() }
        return String(s)
    }
}

/// (OPJ_SIZE_T)-1, OpenJPEG's end of stream. OPJ_SIZE_T is size_t, which Swift imports as Int:
/// `.max` would be a (huge) byte count, not -1.
private let endOfStream = OPJ_SIZE_T(truncatingIfNeeded: -1)

private func memoryRead(_ buffer: UnsafeMutableRawPointer?, _ count: OPJ_SIZE_T, _ user: UnsafeMutableRawPointer?) -> OPJ_SIZE_T {
    guard let buffer, let user else { return endOfStream }
    let state = user.assumingMemoryBound(to: MemoryStreamState.self)
    let remaining = state.pointee.size - state.pointee.offset
    guard remaining > 0 else { return endOfStream }
    let n = min(remaining, Int(count))
    buffer.copyMemory(from: state.pointee.base + state.pointee.offset, byteCount: n)
    state.pointee.offset += n
    return OPJ_SIZE_T(n)
}

private func memorySkip(_ count: OPJ_OFF_T, _ user: UnsafeMutableRawPointer?) -> OPJ_OFF_T {
    // As OpenJPEG's own file stream (fseek) does: the position may move past the end, where
    // reads then report the end of the stream.
    guard let user, count >= 0 else { return -1 }
    let state = user.assumingMemoryBound(to: MemoryStreamState.self)
    state.pointee.offset += Int(count)
    return count
}

private func memorySeek(_ position: OPJ_OFF_T, _ user: UnsafeMutableRawPointer?) -> OPJ_BOOL {
    guard let user, position >= 0 else { return 0 }
    let state = user.assumingMemoryBound(to: MemoryStreamState.self)
    state.pointee.offset = Int(position)
    return 1
}

private func openJPEGError(_ message: UnsafePointer<CChar>?, _ context: UnsafeMutableRawPointer?) {
    guard let message, let context else { return }
    Unmanaged<OpenJPEGMessages>.fromOpaque(context).takeUnretainedValue().errors.append(String(cString: message))
}

private func openJPEGWarning(_ message: UnsafePointer<CChar>?, _ context: UnsafeMutableRawPointer?) {
    guard let message, let context else { return }
    Unmanaged<OpenJPEGMessages>.fromOpaque(context).takeUnretainedValue().warnings.append(String(cString: message))
}
