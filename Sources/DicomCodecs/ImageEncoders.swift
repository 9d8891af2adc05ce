import CPNG
import CTurboJPEG

/// An image ready for an image file: gray or RGB samples, 8 or 16 bits, colour-by-pixel, rows
/// top to bottom without padding; 16-bit samples little endian.
public struct RasterImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// 1 (gray) or 3 (RGB).
    public let channels: Int
    /// 8 or 16.
    public let bitDepth: Int
    public let samples: [UInt8]

    /// - Throws: `CodecError.encodingFailed` when the sizes disagree or are out of range.
    public init(width: Int, height: Int, channels: Int, bitDepth: Int, samples: [UInt8]) throws {
        guard width > 0, height > 0, width <= 0xFFFF, height <= 0xFFFF else {
            throw CodecError.encodingFailed("image size \(width)×\(height) out of range (1...65535)")
        }
        guard channels == 1 || channels == 3 else { throw CodecError.encodingFailed("\(channels) channels (1 or 3 supported)") }
        guard bitDepth == 8 || bitDepth == 16 else { throw CodecError.encodingFailed("bit depth \(bitDepth) (8 or 16 supported)") }
        let expected = width * height * channels * bitDepth / 8
        guard samples.count == expected else {
            throw CodecError.encodingFailed("\(samples.count) sample bytes for a \(width)×\(height)×\(channels) image of \(bitDepth) bits (expected \(expected))")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.samples = samples
    }

    var rowBytes: Int { width * channels * bitDepth / 8 }
}

/// PNG through libpng, written to memory. 8- and 16-bit gray and RGB. The default compression
/// favours speed (zlib level 1, the cheap filters None/Sub/Up chosen per row).
public struct PNGEncoder: Sendable {
    /// zlib compression level 0...9.
    public var compressionLevel: Int
    /// Restrict libpng's per-row filter choice to None/Sub/Up (fast) or allow all five.
    public var fastFilters: Bool

    public init(compressionLevel: Int = 1, fastFilters: Bool = true) {
        self.compressionLevel = compressionLevel
        self.fastFilters = fastFilters
    }

    public func encode(_ image: RasterImage) throws -> [UInt8] {
        guard (0...9).contains(compressionLevel) else {
            throw CodecError.encodingFailed("PNG compression level \(compressionLevel) (0...9)")
        }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let filters = fastFilters ? (PNG_FILTER_NONE | PNG_FILTER_SUB | PNG_FILTER_UP)
            : (PNG_FILTER_NONE | PNG_FILTER_SUB | PNG_FILTER_UP | PNG_FILTER_AVG | PNG_FILTER_PAETH)
        let result = image.samples.withUnsafeBufferPointer { pixels in
            message.withUnsafeMutableBufferPointer { text in
                dwc_png_encode(pixels.baseAddress, UInt32(image.width), UInt32(image.height), Int32(image.channels),
                               Int32(image.bitDepth), image.rowBytes, Int32(compressionLevel), Int32(filters),
                               &output, &size, text.baseAddress, text.count)
            }
        }
        guard result == 0, let output else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw CodecError.encodingFailed("libpng: \(text.isEmpty ? "unknown error" : text)")
        }
        defer { dwc_png_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }
}

/// Baseline JPEG through libjpeg-turbo's TurboJPEG API: 8-bit gray or RGB.
public struct JPEGEncoder: Sendable {
    public enum ChromaSubsampling: Sendable {
        case none, horizontal, both  // 4:4:4, 4:2:2, 4:2:0
    }

    /// 1...100.
    public var quality: Int
    /// Chrominance subsampling of RGB images (gray images have none).
    public var subsampling: ChromaSubsampling

    public init(quality: Int = 90, subsampling: ChromaSubsampling = .both) {
        self.quality = quality
        self.subsampling = subsampling
    }

    public func encode(_ image: RasterImage) throws -> [UInt8] {
        guard image.bitDepth == 8 else { throw CodecError.encodingFailed("JPEG output needs 8-bit samples, got \(image.bitDepth)") }
        guard (1...100).contains(quality) else { throw CodecError.encodingFailed("JPEG quality \(quality) (1...100)") }
        guard let handle = tjInitCompress() else {
            throw CodecError.encodingFailed("libjpeg-turbo: \(String(cString: tjGetErrorStr2(nil)))")
        }
        defer { tjDestroy(handle) }
        let format = image.channels == 1 ? TJPF_GRAY : TJPF_RGB
        let sampling: TJSAMP
        if image.channels == 1 {
            sampling = TJSAMP_GRAY
        } else {
            switch subsampling {
            case .none: sampling = TJSAMP_444
            case .horizontal: sampling = TJSAMP_422
            case .both: sampling = TJSAMP_420
            }
        }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let result = image.samples.withUnsafeBufferPointer { pixels in
            tjCompress2(handle, pixels.baseAddress, Int32(image.width), Int32(image.rowBytes), Int32(image.height),
                        Int32(format.rawValue), &output, &size, Int32(sampling.rawValue), Int32(quality), 0)
        }
        defer { if let output { tjFree(output) } }
        guard result == 0, let output else {
            throw CodecError.encodingFailed("libjpeg-turbo: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }
}

/// Netpbm: PGM (P5) for gray, PPM (P6) for RGB; maxval 255 or 65535 (samples big endian, as
/// the format requires).
public struct PNMEncoder: Sendable {
    public init() {}

    public func encode(_ image: RasterImage) -> [UInt8] {
        let header = "\(image.channels == 1 ? "P5" : "P6")\n\(image.width) \(image.height)\n\(image.bitDepth == 8 ? 255 : 65535)\n"
        var out = Array(header.utf8)
        out.reserveCapacity(out.count + image.samples.count)
        if image.bitDepth == 8 {
            out.append(contentsOf: image.samples)
        } else {
            var swapped = image.samples
            NativeDecoder.swapBytes(&swapped, wordSize: 2)
            out.append(contentsOf: swapped)
        }
        return out
    }
}
