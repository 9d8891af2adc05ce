import DicomCodecs
import DicomCore
import DicomParser
import DicomRemote

/// One instance opened for rendering: its attributes and a way to decode any of its frames.
///
/// Encapsulated frames are found with `FrameLocator` (offset tables, a scan, or a span table
/// kept in the index) and read with one read each. Native frames are located from the pixel
/// description itself, so that YBR_FULL_422 frames (two bytes per pixel, not three) and 1-bit
/// frames that start inside a byte are cut where they really are.
public struct RenderSource: Sendable {
    public let file: DicomFile
    public let attributes: RenderAttributes
    /// Frames that can be read (Number of Frames, or fewer when the pixel data are short).
    public let frameCount: Int
    /// Messages about the file worth a warning (short pixel data, offset table problems).
    public let warnings: [String]
    let name: String
    let reader: FrameReader?
    let nativeOffset: UInt64
    let nativeLength: UInt64
    let swapWordSize: Int

    /// - Parameters:
    ///   - file: the file parsed up to (and without) its pixel data.
    ///   - cachedSpans: the encapsulated frame table kept in the index, when it is current.
    public init(file: DicomFile, name: String, cachedSpans: [FrameSpan]? = nil) throws {
        self.file = file
        self.name = name
        attributes = try RenderAttributes(file: file)
        let d = attributes.description
        let syntax = file.transferSyntax.uid
        guard DecoderRegistry.decoder(for: syntax) != nil else {
            let label = UIDRegistry.name(for: syntax).map { "\(syntax) (\($0))" } ?? syntax
            throw DwcError(.unsupportedTransferSyntax, "\(name): transfer syntax \(label) cannot be decoded")
        }
        let location: PixelDataLocation
        do {
            guard let found = try file.pixelDataLocation() else {
                throw DwcError(.invalidInput, "\(name): no Pixel Data (7FE0,0010)")
            }
            location = found
        } catch {
            throw DwcError(codec: error, context: nil)
        }
        var warnings: [String] = []
        if let length = location.length {
            reader = nil
            nativeOffset = location.valueOffset
            nativeLength = length
            let available: Int
            if d.bitsAllocated == 1 {
                available = Int(min(UInt64(Int32.max), length * 8 / UInt64(d.pixelCount)))
            } else {
                available = Int(min(UInt64(Int32.max), length / UInt64(d.nativeFrameLength)))
            }
            frameCount = min(d.numberOfFrames, available)
            if frameCount < d.numberOfFrames {
                warnings.append("pixel data hold \(frameCount) of \(d.numberOfFrames) frames (\(length) bytes)")
            }
            if file.transferSyntax.isBigEndian {
                // 8-bit samples in an OW element were swapped as 16-bit words.
                let header = (try? file.source.read(offset: location.elementOffset, length: 6)) ?? []
                let vr = header.count == 6 ? VR(byte0: header[4], byte1: header[5]) : nil
                swapWordSize = NativeDecoder.bigEndianWordSize(bitsAllocated: d.bitsAllocated, vr: vr ?? .OB)
            } else {
                swapWordSize = 1
            }
        } else {
            let layout: FrameLayout
            do {
                layout = try FrameLocator.layout(of: file, cached: cachedSpans)
            } catch {
                throw DwcError(codec: error)
            }
            warnings += layout.warnings
            reader = FrameReader(source: file.source, layout: layout)
            frameCount = layout.frameCount
            nativeOffset = 0
            nativeLength = 0
            swapWordSize = 1
        }
        self.warnings = warnings
    }

    public var description: PixelDescription { attributes.description }

    /// The frame's bytes as stored: a codestream, or native bytes (little endian) with the bit
    /// where a 1-bit frame starts.
    public func frameBytes(_ number: Int) throws -> (bytes: [UInt8], bitOffset: Int) {
        if frameCount == 0 {
            throw DwcError(.decodeFailed, "\(name): the pixel data are shorter than one frame (\(nativeLength) bytes, a frame needs \(attributes.description.nativeFrameLength))")
        }
        guard number >= 1, number <= frameCount else {
            throw DwcError(.frameOutOfRange, "\(name): frame \(number) is out of range; valid frames are 1-\(frameCount)")
        }
        do {
            if let reader {
                return (try reader.frame(number), 0)
            }
            let d = attributes.description
            let start = d.nativeFrameStart(index: number - 1)
            let count = d.nativeFrameByteCount(bitOffset: start.bitOffset)
            if swapWordSize > 1 {
                // Swap whole words of the value: a frame may start or end inside one (8-bit
                // samples in OW, odd frame sizes), and the last word may hold the padding byte.
                let lead = start.byteOffset % swapWordSize
                let from = start.byteOffset - lead
                var to = start.byteOffset + count
                to += (swapWordSize - to % swapWordSize) % swapWordSize
                let available = Int(min(UInt64(Int.max), nativeLength)) - from
                var bytes = try file.source.read(offset: nativeOffset + UInt64(from), length: max(0, min(to - from, available)))
                guard bytes.count >= lead + count else {
                    throw DwcError(.decodeFailed, "\(name): file ends inside frame \(number)")
                }
                NativeDecoder.swapBytes(&bytes, wordSize: swapWordSize)
                return (Array(bytes[lead..<(lead + count)]), start.bitOffset)
            }
            let bytes = try file.source.read(offset: nativeOffset + UInt64(start.byteOffset), length: count)
            guard bytes.count == count else {
                throw DwcError(.decodeFailed, "\(name): file ends inside frame \(number)")
            }
            return (bytes, start.bitOffset)
        } catch let error as DicomParserError where error.kind == .invalid {
            // A frame cut off or not where the tables say: the frame cannot be decoded.
            throw DwcError(.decodeFailed, error.description)
        } catch {
            throw DwcError(codec: error, context: nil)
        }
    }

    /// Frame `number` (1-based) decoded.
    public func decode(_ number: Int) throws -> DecodedFrame {
        let (bytes, bitOffset) = try frameBytes(number)
        do {
            if reader == nil {
                return try NativeDecoder().decode(bytes, description: attributes.description, bitOffset: bitOffset)
            }
            return try DecoderRegistry.decode(bytes, description: attributes.description)
        } catch {
            throw DwcError(codec: error, context: "\(name): frame \(number)")
        }
    }

    /// Opens a path, a URL (or "-" for stdin) for rendering. A URL's `cachedSpans` (the index's)
    /// are used only while the object still has `cachedETag`.
    public static func open(_ path: String, name: String? = nil, cachedSpans: [FrameSpan]? = nil, cachedETag: String? = nil) throws -> RenderSource {
        let file = try DicomFileLoader(stopBeforePixels: true).load(path)
        var spans = cachedSpans
        if let remote = file.source as? RemoteByteSource, spans == nil || cachedETag == nil || remote.etag != cachedETag {
            // A remote object's frame table without a request per fragment (offset tables, or
            // one streaming pass over the item headers).
            do { spans = try RemoteAccess.frameSpans(of: file, source: remote) } catch { throw DwcError(error) }
        }
        return try RenderSource(file: file, name: name ?? (path == "-" ? "<stdin>" : path), cachedSpans: spans)
    }
}
