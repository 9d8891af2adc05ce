/// One decoded frame: integer samples at full resolution, colour-by-pixel (planar
/// configuration 0), row by row, each sample little endian in `bytesPerSample` bytes, plus what
/// the decoder did to get there.
///
/// Samples are corrected as pydicom corrects them: bits above `bitsStored` are cleared
/// (unsigned) or copies of the sign bit (signed), so `value(at:)` is the stored value.
public struct DecodedFrame: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public let samplesPerPixel: Int
    /// 1, 2 or 4 (the container: Bits Allocated rounded up to whole bytes).
    public let bytesPerSample: Int
    /// Significant bits of each sample (Bits Stored, or the codestream's precision when the
    /// decoder found it to differ).
    public let bitsStored: Int
    /// Samples are two's complement signed integers.
    public let isSigned: Bool
    /// The colour space of the decoded samples: the description's, or what a decoder converted
    /// to (e.g. RGB for a YBR_FULL_422 JPEG frame, RGB for a YBR_ICT JPEG 2000 frame,
    /// YBR_FULL for native YBR_FULL_422 whose chrominance was upsampled).
    public let photometricInterpretation: String
    /// Always 0 (colour-by-pixel): decoders interleave planar data.
    public var planarConfiguration: Int { 0 }
    /// The samples, `rows * columns * samplesPerPixel * bytesPerSample` bytes.
    public var samples: [UInt8]
    /// What the decoder did besides decoding, in order.
    public var operations: [DecodeOperation]

    public init(rows: Int, columns: Int, samplesPerPixel: Int, bytesPerSample: Int, bitsStored: Int, isSigned: Bool,
                photometricInterpretation: String, samples: [UInt8], operations: [DecodeOperation] = []) {
        self.rows = rows
        self.columns = columns
        self.samplesPerPixel = samplesPerPixel
        self.bytesPerSample = bytesPerSample
        self.bitsStored = bitsStored
        self.isSigned = isSigned
        self.photometricInterpretation = photometricInterpretation
        self.samples = samples
        self.operations = operations
    }

    /// Number of samples (all components of all pixels).
    public var sampleCount: Int { rows * columns * samplesPerPixel }

    /// The sample at `index` (0 ..< sampleCount; pixel-major, component-minor) as an integer.
    @inlinable
    public func value(at index: Int) -> Int {
        let base = index * bytesPerSample
        switch bytesPerSample {
        case 1:
            return isSigned ? Int(Int8(bitPattern: samples[base])) : Int(samples[base])
        case 2:
            let raw = UInt16(samples[base]) | UInt16(samples[base + 1]) << 8
            return isSigned ? Int(Int16(bitPattern: raw)) : Int(raw)
        default:
            let raw = UInt32(samples[base]) | UInt32(samples[base + 1]) << 8
                | UInt32(samples[base + 2]) << 16 | UInt32(samples[base + 3]) << 24
            return isSigned ? Int(Int32(bitPattern: raw)) : Int(raw)
        }
    }

    /// All samples as integers.
    public func values() -> [Int] {
        var out = [Int](repeating: 0, count: sampleCount)
        samples.withUnsafeBytes { raw in
            switch (bytesPerSample, isSigned) {
            case (1, false): for i in 0..<out.count { out[i] = Int(raw[i]) }
            case (1, true): for i in 0..<out.count { out[i] = Int(Int8(bitPattern: raw[i])) }
            case (2, false): for i in 0..<out.count { out[i] = Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case (2, true): for i in 0..<out.count { out[i] = Int(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
            case (_, false): for i in 0..<out.count { out[i] = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case (_, true): for i in 0..<out.count { out[i] = Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
            }
        }
        return out
    }
}

/// A step a decoder took besides decoding, recorded in `DecodedFrame.operations`.
public enum DecodeOperation: Sendable, Equatable, CustomStringConvertible {
    /// Colour space conversion, e.g. ("YBR_FULL_422", "RGB", "libjpeg-turbo").
    case colorConverted(from: String, to: String, by: String)
    /// Subsampled chrominance brought to full resolution (native YBR_FULL_422, JPEG 4:2:x).
    case chromaUpsampled
    /// Colour-by-plane samples reordered to colour-by-pixel.
    case planarToInterleaved
    /// 1-bit packed samples expanded to one byte each.
    case unpackedBits
    /// Bits above `bits` replaced by copies of the sign bit.
    case signExtended(fromBits: Int)
    /// Bits above `bits` cleared.
    case maskedUnusedBits(toBits: Int)
    /// Samples widened to the container of Bits Allocated (e.g. 8-bit JPEG in a 16-bit container).
    case widened(toBytes: Int)

    public var description: String {
        switch self {
        case .colorConverted(let from, let to, let by): return "colour \(from) → \(to) (\(by))"
        case .chromaUpsampled: return "chrominance upsampled"
        case .planarToInterleaved: return "planar → interleaved"
        case .unpackedBits: return "1-bit samples unpacked"
        case .signExtended(let bits): return "sign extended from bit \(bits - 1)"
        case .maskedUnusedBits(let bits): return "masked to \(bits) bits"
        case .widened(let bytes): return "widened to \(bytes) bytes per sample"
        }
    }
}

/// Decodes one frame of one transfer syntax.
///
/// A decoder sees the bytes of one frame — for encapsulated syntaxes all fragments of the frame
/// concatenated, for native syntaxes the frame's bytes in little endian (the caller swaps big
/// endian data, see `NativeDecoder.swapBytes`) — and the description of the image. It validates
/// the frame against the description before handing anything to a C library.
public protocol PixelDecoder: Sendable {
    func decode(_ frame: [UInt8], description: PixelDescription) throws -> DecodedFrame
}

/// The decoder of each transfer syntax.
public enum DecoderRegistry {
    /// The decoder for `transferSyntaxUID`, nil when the syntax is not supported.
    public static func decoder(for transferSyntaxUID: String) -> (any PixelDecoder)? {
        switch transferSyntaxUID {
        case _ where TransferSyntaxUID.native.contains(transferSyntaxUID):
            return NativeDecoder()
        case TransferSyntaxUID.rleLossless:
            return RLEDecoder()
        case TransferSyntaxUID.jpegBaseline, TransferSyntaxUID.jpegExtended:
            return JPEGBaselineDecoder()
        case TransferSyntaxUID.jpegLossless, TransferSyntaxUID.jpegLosslessSV1:
            return JPEGLosslessDecoder()
        case TransferSyntaxUID.jpegLSLossless, TransferSyntaxUID.jpegLSNearLossless:
            return JPEGLSDecoder()
        case TransferSyntaxUID.jpeg2000Lossless, TransferSyntaxUID.jpeg2000,
             TransferSyntaxUID.htj2kLossless, TransferSyntaxUID.htj2kLosslessRPCL, TransferSyntaxUID.htj2k:
            return JPEG2000Decoder()
        default:
            return nil
        }
    }

    /// Every transfer syntax UID with a decoder.
    public static let supportedTransferSyntaxes: [String] = [
        TransferSyntaxUID.implicitVRLittleEndian, TransferSyntaxUID.explicitVRLittleEndian,
        TransferSyntaxUID.encapsulatedUncompressed, TransferSyntaxUID.deflatedExplicitVRLittleEndian,
        TransferSyntaxUID.explicitVRBigEndian, TransferSyntaxUID.rleLossless,
        TransferSyntaxUID.jpegBaseline, TransferSyntaxUID.jpegExtended,
        TransferSyntaxUID.jpegLossless, TransferSyntaxUID.jpegLosslessSV1,
        TransferSyntaxUID.jpegLSLossless, TransferSyntaxUID.jpegLSNearLossless,
        TransferSyntaxUID.jpeg2000Lossless, TransferSyntaxUID.jpeg2000,
        TransferSyntaxUID.htj2kLossless, TransferSyntaxUID.htj2kLosslessRPCL, TransferSyntaxUID.htj2k,
    ]

    /// Decodes `frame` with the decoder of the description's transfer syntax.
    /// - Throws: `CodecError.unsupported` when there is none, else what the decoder throws.
    public static func decode(_ frame: [UInt8], description: PixelDescription) throws -> DecodedFrame {
        guard let decoder = decoder(for: description.transferSyntaxUID) else {
            throw CodecError.unsupported(transferSyntax: description.transferSyntaxUID, reason: "no decoder for this transfer syntax")
        }
        return try decoder.decode(frame, description: description)
    }
}
