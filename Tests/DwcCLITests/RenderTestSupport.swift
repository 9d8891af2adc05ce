import DicomCore
import DicomParser
import Foundation
import Testing

/// DicomCore's tag (Swift Testing has a `Tag` too).
typealias RenderTag = DicomCore.Tag

/// A synthesized image for `dwc render` tests: the Image Pixel module from the fields, pixel
/// values encoded as the fields say, plus any extra elements.
struct RenderFixture {
    var rows = 1
    var columns = 4
    var bitsAllocated = 16
    var bitsStored = 16
    var signed = false
    var photometric = "MONOCHROME2"
    var samplesPerPixel = 1
    var planarConfiguration = 0
    var frames = 1
    /// Sample values of all frames in stored order (planar data: plane by plane).
    var values: [Int] = []
    var extra: [DataElement] = []
    var syntax = "1.2.840.10008.1.2.1"
    /// Encapsulated frames (one fragment each) instead of native values.
    var encapsulated: [[UInt8]]?

    static func us(_ tag: RenderTag, _ values: Int...) -> DataElement {
        DataElement(tag: tag, vr: .US, bytes: values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8 & 0xFF)] })
    }

    static func ss(_ tag: RenderTag, _ values: Int...) -> DataElement {
        DataElement(tag: tag, vr: .SS, bytes: values.flatMap { v -> [UInt8] in
            let u = UInt16(bitPattern: Int16(v)); return [UInt8(u & 0xFF), UInt8(u >> 8)]
        })
    }

    static func text(_ tag: RenderTag, _ vr: VR, _ value: String) -> DataElement {
        DataElement(tag: tag, vr: vr, bytes: DicomWriter.textBytes(value))
    }

    static func words(_ tag: RenderTag, _ values: [Int]) -> DataElement {
        DataElement(tag: tag, vr: .OW, bytes: values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8 & 0xFF)] })
    }

    static func sequence(_ tag: RenderTag, _ items: [[DataElement]]) -> DataElement {
        DataElement(tag: tag, vr: .SQ, value: .sequence(items.map { DataSet(elements: $0) }))
    }

    /// A LUT item: descriptor (entries, first, bits) and 16-bit data.
    static func lutItem(first: Int, bits: Int, data: [Int], explanation: String? = nil, firstSigned: Bool = false) -> [DataElement] {
        var item = [firstSigned ? ss(RenderTag(0x0028, 0x3002), data.count, first, bits) : us(RenderTag(0x0028, 0x3002), data.count, first, bits),
                    words(RenderTag(0x0028, 0x3006), data)]
        if let explanation { item.append(text(RenderTag(0x0028, 0x3003), .LO, explanation)) }
        return item
    }

    static func window(_ center: String, _ width: String, function: String? = nil) -> [DataElement] {
        var e = [text(RenderTag(0x0028, 0x1050), .DS, center), text(RenderTag(0x0028, 0x1051), .DS, width)]
        if let function { e.append(text(RenderTag(0x0028, 0x1056), .CS, function)) }
        return e
    }

    static func rescale(slope: String, intercept: String) -> [DataElement] {
        [text(RenderTag(0x0028, 0x1052), .DS, intercept), text(RenderTag(0x0028, 0x1053), .DS, slope)]
    }

    func pixelBytes() -> [UInt8] {
        switch bitsAllocated {
        case 1:
            var out = [UInt8](repeating: 0, count: (values.count + 7) / 8)
            for (i, v) in values.enumerated() where v & 1 != 0 { out[i / 8] |= UInt8(1) << UInt8(i % 8) }
            return out
        case 8:
            return values.map { UInt8(truncatingIfNeeded: $0) }
        case 16:
            return values.flatMap { v -> [UInt8] in let u = UInt16(truncatingIfNeeded: v); return [UInt8(u & 0xFF), UInt8(u >> 8)] }
        default:
            return values.flatMap { v -> [UInt8] in let u = UInt32(truncatingIfNeeded: v); return (0..<4).map { UInt8(u >> (8 * $0) & 0xFF) } }
        }
    }

    func dataSet(sop: String) -> DataSet {
        var ds = DataSet()
        ds.set(DataElement(tag: .sopClassUID, vr: .UI, bytes: DicomWriter.uidBytes("1.2.840.10008.5.1.4.1.1.7")))
        ds.set(DataElement(tag: .sopInstanceUID, vr: .UI, bytes: DicomWriter.uidBytes(sop)))
        ds.set(DataElement(tag: .studyInstanceUID, vr: .UI, bytes: DicomWriter.uidBytes(sop + ".1")))
        ds.set(DataElement(tag: .seriesInstanceUID, vr: .UI, bytes: DicomWriter.uidBytes(sop + ".2")))
        ds.set(Self.us(.samplesPerPixel, samplesPerPixel))
        ds.set(Self.text(RenderTag(0x0028, 0x0004), .CS, photometric))
        if samplesPerPixel > 1 { ds.set(Self.us(RenderTag(0x0028, 0x0006), planarConfiguration)) }
        if frames > 1 { ds.set(Self.text(.numberOfFrames, .IS, String(frames))) }
        ds.set(Self.us(.rows, rows))
        ds.set(Self.us(.columns, columns))
        ds.set(Self.us(.bitsAllocated, bitsAllocated))
        ds.set(Self.us(RenderTag(0x0028, 0x0101), bitsStored))
        ds.set(Self.us(RenderTag(0x0028, 0x0102), bitsStored - 1))
        ds.set(Self.us(RenderTag(0x0028, 0x0103), signed ? 1 : 0))
        for element in extra { ds.set(element) }
        if encapsulated == nil {
            ds.set(DataElement(tag: .pixelData, vr: bitsAllocated > 8 ? .OW : .OB, bytes: pixelBytes()))
        }
        return ds
    }

    func write(to path: String, sop: String = "2.25.4242") throws {
        var bytes = try DicomWriter().part10(dataSet: dataSet(sop: sop), syntax: TransferSyntax(uid: syntax))
        if let encapsulated {
            bytes += [0xE0, 0x7F, 0x10, 0x00] + Array("OB".utf8) + [0, 0, 0xFF, 0xFF, 0xFF, 0xFF]
            bytes += [0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]
            for var frame in encapsulated {
                if frame.count % 2 == 1 { frame.append(0) }
                bytes += [0xFE, 0xFF, 0x00, 0xE0] + withUnsafeBytes(of: UInt32(frame.count).littleEndian, Array.init) + frame
            }
            bytes += [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

/// A binary PGM/PPM read back.
struct PNMImage: Equatable {
    var width: Int
    var height: Int
    var channels: Int
    var maxval: Int
    var samples: [Int]

    init(width: Int, height: Int, channels: Int, maxval: Int, samples: [Int]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.maxval = maxval
        self.samples = samples
    }

    init(_ data: Data) throws {
        let bytes = [UInt8](data)
        var fields: [String] = []
        var i = 0
        while fields.count < 4 {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
            var token: [UInt8] = []
            while i < bytes.count, !(bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09) { token.append(bytes[i]); i += 1 }
            guard !token.isEmpty else { throw PNMError.header }
            fields.append(String(decoding: token, as: UTF8.self))
        }
        i += 1
        guard fields[0] == "P5" || fields[0] == "P6", let w = Int(fields[1]), let h = Int(fields[2]), let m = Int(fields[3]) else {
            throw PNMError.header
        }
        width = w; height = h; maxval = m
        channels = fields[0] == "P5" ? 1 : 3
        let count = w * h * channels
        let body = Array(bytes[i...])
        if m < 256 {
            guard body.count == count else { throw PNMError.size(body.count, count) }
            samples = body.map(Int.init)
        } else {
            guard body.count == 2 * count else { throw PNMError.size(body.count, 2 * count) }
            samples = (0..<count).map { Int(body[2 * $0]) << 8 | Int(body[2 * $0 + 1]) }
        }
    }

    enum PNMError: Error { case header, size(Int, Int) }
}

/// Width, height, bit depth and colour type from a PNG's IHDR; nil when it is no PNG.
func pngHeader(_ data: Data) -> (width: Int, height: Int, bitDepth: Int, colorType: Int)? {
    let b = [UInt8](data)
    guard b.count > 33, b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], Array(b[12..<16]) == Array("IHDR".utf8) else { return nil }
    func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
    return (be32(16), be32(20), Int(b[24]), Int(b[25]))
}

/// A temporary directory removed when the value goes away.
final class RenderScratch {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "dwc-render-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { directory + "/" + name }

    func file(_ fixture: RenderFixture, _ name: String = "image.dcm", sop: String = "2.25.4242") throws -> String {
        let p = path(name)
        try fixture.write(to: p, sop: sop)
        return p
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

/// Renders to PNM on stdout and parses it; records the process result when it fails.
func renderPNM(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> PNMImage? {
    let r = try DwcProcess.run(["render", "--format", "pnm"] + arguments)
    #expect(r.status == 0, "dwc render \(arguments): \(r.stderr)", sourceLocation: sourceLocation)
    guard r.status == 0 else { return nil }
    return try PNMImage(r.stdout)
}
