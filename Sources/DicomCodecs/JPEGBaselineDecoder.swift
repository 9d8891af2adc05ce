import CTurboJPEG

/// JPEG Baseline (Process 1, 1.2.840.10008.1.2.4.50) and JPEG Extended (Processes 2 & 4,
/// 1.2.840.10008.1.2.4.51).
///
/// 8-bit frames go through libjpeg-turbo's TurboJPEG API. 12-bit frames (JPEG Extended), which
/// that build cannot decode, go through `JPEGSequentialDecoder` in Swift. Lossless codestreams
/// found under these syntaxes are handed to `JPEGLosslessDecoder`.
///
/// Colour (3 components), following pydicom 3: the colour space is the Photometric
/// Interpretation, except that component identifiers 'R','G','B' mean RGB and a JFIF APP0
/// marker means YCbCr. YBR_FULL and YBR_FULL_422 frames are converted to RGB by libjpeg-turbo
/// (its accurate integer YCbCr→RGB and, for subsampled chrominance, its smooth upsampling);
/// RGB frames are not transformed, even when the codestream's markers would make libjpeg-turbo
/// guess YCbCr (its guess is overridden by rewriting the markers of a copy of the frame). The
/// frame's `photometricInterpretation` says RGB in both cases; `operations` tells which.
public struct JPEGBaselineDecoder: PixelDecoder {
    public init() {}

    public func decode(_ frame: [UInt8], description d: PixelDescription) throws -> DecodedFrame {
        let (header, markers, _) = try JPEGParser.headers(of: frame, transferSyntax: d.transferSyntaxUID)
        if header.isLossless {
            return try JPEGLosslessDecoder().decode(frame, description: d)
        }
        if header.isArithmetic {
            throw CodecError.unsupported(transferSyntax: d.transferSyntaxUID, reason: "arithmetic-coded JPEG")
        }
        try JPEGFrameCheck.validate(header, against: d)
        if header.precision > 8 {
            return try JPEGSequentialDecoder.decode(frame, description: d)
        }
        guard header.precision == 8 else {
            throw CodecError.corrupt("JPEG DCT precision \(header.precision)")
        }

        var source = frame
        var photometric = d.photometricInterpretation
        var operations: [DecodeOperation] = []
        let components = header.components.count
        if components == 3 {
            let ids = header.components.map(\.id)
            let rgbIDs = ids == [82, 71, 66] || ids == [114, 103, 98]
            var colorSpace = photometric
            if rgbIDs {
                colorSpace = "RGB"
            } else if markers.hasJFIF && !colorSpace.hasPrefix("YBR") {
                colorSpace = d.transferSyntaxUID == TransferSyntaxUID.jpegBaseline ? "YBR_FULL_422" : "YBR_FULL"
            }
            let convert = colorSpace == "YBR_FULL" || colorSpace == "YBR_FULL_422"
            // What libjpeg-turbo (jdapimin.c) assumes from the markers.
            let turboConverts: Bool
            if markers.hasJFIF {
                turboConverts = true
            } else if let transform = markers.adobeTransform {
                turboConverts = transform != 0
            } else {
                turboConverts = !(ids == [82, 71, 66])
            }
            if convert != turboConverts {
                source = Self.rewritingColorMarkers(frame, transform: convert)
            }
            if convert {
                operations.append(.colorConverted(from: colorSpace, to: "RGB", by: "libjpeg-turbo"))
                photometric = "RGB"
            } else {
                photometric = colorSpace
            }
            if header.components.contains(where: { $0.h != header.maxH || $0.v != header.maxV }) {
                operations.append(.chromaUpsampled)
            }
        }

        var samples = try TurboJPEG.decompress(source, width: d.columns, height: d.rows, components: components)
        var bps = 1
        if d.bytesPerSample > 1 {
            samples = SampleBuffers.widen(samples, fromBytes: 1, toBytes: d.bytesPerSample, signed: false)
            bps = d.bytesPerSample
            operations.append(.widened(toBytes: bps))
        }
        if let op = SampleBuffers.correctUnusedBits(&samples, bytesPerSample: bps, bits: d.bitsStored, signed: d.isSigned) {
            operations.append(op)
        }
        return DecodedFrame(rows: d.rows, columns: d.columns, samplesPerPixel: components, bytesPerSample: bps,
                            bitsStored: min(d.bitsStored, 8 * bps), isSigned: d.isSigned,
                            photometricInterpretation: photometric, samples: samples, operations: operations)
    }

    /// A copy of `frame` whose markers make libjpeg-turbo apply the YCbCr→RGB transform
    /// (`transform`) or not: component identifiers 1,2,3 or 'R','G','B' in the frame and scan
    /// headers, the Adobe marker's transform flag, and (to switch the transform off) a JFIF
    /// marker renamed so that it is not recognised. Entropy-coded data is left untouched.
    static func rewritingColorMarkers(_ frame: [UInt8], transform: Bool) -> [UInt8] {
        var out = frame
        var ids: [UInt8: UInt8] = [:]
        let newIDs: [UInt8] = transform ? [1, 2, 3] : [82, 71, 66]
        var p = 2
        while p + 4 <= out.count {
            guard out[p] == 0xFF else { p += 1; continue }
            let marker = out[p + 1]
            if marker == 0xFF { p += 1; continue }
            if marker == 0x00 || marker == 0x01 || (0xD0...0xD8).contains(marker) { p += 2; continue }
            if marker == 0xD9 { break }
            let length = Int(out[p + 2]) << 8 | Int(out[p + 3])
            let start = p + 4, end = p + 2 + length
            guard length >= 2, end <= out.count else { break }
            switch marker {
            case 0xC0...0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:
                if end - start >= 15, out[start + 5] == 3 {
                    for i in 0..<3 {
                        ids[out[start + 6 + 3 * i]] = newIDs[i]
                        out[start + 6 + 3 * i] = newIDs[i]
                    }
                }
            case 0xDA:
                let count = Int(out[start])
                for i in 0..<count where start + 1 + 2 * i < end {
                    if let id = ids[out[start + 1 + 2 * i]] { out[start + 1 + 2 * i] = id }
                }
                // Skip the entropy-coded data to the next marker that is not RSTn.
                var q = end
                while q + 1 < out.count {
                    if out[q] == 0xFF, out[q + 1] != 0x00, out[q + 1] != 0xFF, !(0xD0...0xD7).contains(out[q + 1]) { break }
                    q += 1
                }
                p = q
                continue
            case 0xE0:
                if !transform, end - start >= 5, out[start] == 0x4A, out[start + 1] == 0x46, out[start + 2] == 0x49, out[start + 3] == 0x46 {
                    out[start + 3] = 0x58  // "JFIX": no longer a JFIF marker
                }
            case 0xEE:
                if end - start >= 12, out[start] == 0x41, out[start + 1] == 0x64 { out[start + 11] = transform ? 1 : 0 }
            default:
                break
            }
            p = end
        }
        return out
    }
}

/// The TurboJPEG calls, with their sizes checked before each call.
enum TurboJPEG {
    static let library = "libjpeg-turbo"

    /// Decompresses an 8-bit JPEG to gray (1 component) or RGB (3) samples of exactly
    /// width × height pixels.
    static func decompress(_ data: [UInt8], width: Int, height: Int, components: Int) throws -> [UInt8] {
        guard components == 1 || components == 3 else {
            throw CodecError.corrupt("JPEG with \(components) components")
        }
        guard let handle = tjInitDecompress() else {
            throw CodecError.libraryError(library: library, message: String(cString: tjGetErrorStr2(nil)))
        }
        defer { tjDestroy(handle) }
        var w: Int32 = 0, h: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let headerResult = data.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt($0.count), &w, &h, &subsampling, &colorspace)
        }
        guard headerResult == 0 else {
            throw CodecError.corrupt("\(library): \(String(cString: tjGetErrorStr2(handle)))")
        }
        guard Int(w) == width, Int(h) == height else {
            throw CodecError.corrupt("JPEG frame is \(w)×\(h), the description says \(width)×\(height)")
        }
        var out = [UInt8](repeating: 0, count: width * height * components)
        let format = components == 1 ? TJPF_GRAY : TJPF_RGB
        let result = data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src.baseAddress, UInt(src.count), dst.baseAddress, Int32(width),
                              Int32(width * components), Int32(height), Int32(format.rawValue), 0)
            }
        }
        if result != 0 {
            let message = String(cString: tjGetErrorStr2(handle))
            // Warnings (truncated or corrupt entropy-coded data) are errors here: the image
            // would be partly grey.
            throw CodecError.corrupt("\(library): \(message)")
        }
        return out
    }
}
