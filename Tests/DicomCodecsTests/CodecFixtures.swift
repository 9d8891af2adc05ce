import DicomCodecs
import DicomCore
import Foundation
import Testing

// Swift Testing has a Tag type of its own.
typealias Tag = DicomCore.Tag

/// The manifest Scripts/make-codec-fixtures.py writes (see its docstring).
struct FixtureManifest: Decodable {
    struct Attributes: Decodable {
        var Rows: Int?
        var Columns: Int?
        var SamplesPerPixel: Int?
        var BitsAllocated: Int?
        var BitsStored: Int?
        var HighBit: Int?
        var PixelRepresentation: Int?
        var PhotometricInterpretation: String?
        var PlanarConfiguration: Int?
        var NumberOfFrames: String?
    }

    struct Native: Decodable {
        var file: String
        var vr: String
        var bigEndian: Bool
    }

    struct Frame: Decodable {
        var index: Int
        var file: String?
        var expected: String?
        var dtype: String?
    }

    struct Case: Decodable {
        var name: String
        var origin: String
        var oracle: String
        var transferSyntax: String
        var attributes: Attributes
        var native: Native?
        var frames: [Frame]
        var tolerance: Int
        var toleranceNote: String
        var pixelCheck: Bool
        /// "decode": must decode and match; "error": must throw a CodecError; "any": either.
        var expect: String
    }

    struct Skipped: Decodable {
        var name: String
        var reason: String
    }

    var cases: [Case]
    var skipped: [Skipped]
}

enum FixtureError: Error, CustomStringConvertible {
    case script(String)
    var description: String {
        switch self {
        case .script(let message): return message
        }
    }
}

/// Fixtures made once per test process by running the Python script (pydicom, numpy, dcmtk,
/// OpenJPH must be installed: Scripts/bootstrap installs them). Removed when the process ends.
enum CodecFixtures {
    static let directory: URL = {
        let temporary = FileManager.default.temporaryDirectory
        // Directories left by test processes that crashed (atexit did not run): their pid is gone.
        let prefix = "dwc-codec-fixtures-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] where name.hasPrefix(prefix) {
            if let pid = Int32(name.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
            }
        }
        let url = temporary.appendingPathComponent("\(prefix)\(ProcessInfo.processInfo.processIdentifier)")
        fixtureDirectoryPath = url.path
        atexit {
            if let path = fixtureDirectoryPath { try? FileManager.default.removeItem(atPath: path) }
        }
        return url
    }()

    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let manifest: Result<FixtureManifest, FixtureError> = {
        let script = repositoryRoot.appendingPathComponent("Scripts/make-codec-fixtures.py").path
        let (status, output) = runProcess(["python3", script, directory.path])
        guard status == 0 else {
            return .failure(.script("make-codec-fixtures.py exited with \(status):\n\(output)"))
        }
        do {
            let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
            return .success(try JSONDecoder().decode(FixtureManifest.self, from: data))
        } catch {
            return .failure(.script("cannot read the fixture manifest: \(error)"))
        }
    }()

    static func load() throws -> FixtureManifest {
        try manifest.get()
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// The expected samples of a frame as integers.
    static func expectedValues(_ frame: FixtureManifest.Frame) throws -> [Int] {
        guard let name = frame.expected, let dtype = frame.dtype else { return [] }
        let raw = try bytes(name)
        return raw.withUnsafeBytes { p -> [Int] in
            switch dtype {
            case "|u1", "<u1": return p.map { Int($0) }
            case "|i1", "<i1": return p.map { Int(Int8(bitPattern: $0)) }
            case "<u2": return (0..<raw.count / 2).map { Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
            case "<i2": return (0..<raw.count / 2).map { Int(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
            case "<u4": return (0..<raw.count / 4).map { Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            case "<i4": return (0..<raw.count / 4).map { Int(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
            case "<i8": return (0..<raw.count / 8).map { Int(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
            case "<u8": return (0..<raw.count / 8).map { Int(truncatingIfNeeded: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            default: return []
            }
        }
    }
}

nonisolated(unsafe) private var fixtureDirectoryPath: String?

/// Runs a command (looked up on PATH), returning its status and combined output.
func runProcess(_ arguments: [String], input: [UInt8]? = nil) -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let stdin = Pipe()
    if input != nil { process.standardInput = stdin }
    do {
        try process.run()
    } catch {
        return (-1, "cannot run \(arguments.joined(separator: " ")): \(error)")
    }
    if let input {
        stdin.fileHandleForWriting.write(Data(input))
        try? stdin.fileHandleForWriting.close()
    }
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

// MARK: Data sets and descriptions from fixture attributes

func us(_ tag: Tag, _ value: Int) -> DataElement {
    DataElement(tag: tag, vr: .US, bytes: [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)])
}

func text(_ tag: Tag, _ vr: VR, _ value: String) -> DataElement {
    var bytes = Array(value.utf8)
    if bytes.count % 2 == 1 { bytes.append(0x20) }
    return DataElement(tag: tag, vr: vr, bytes: bytes)
}

extension FixtureManifest.Attributes {
    /// The attributes as a data set, the way a parser would hand them over.
    var dataSet: DataSet {
        var ds = DataSet()
        if let v = SamplesPerPixel { ds.set(us(Tag(0x0028, 0x0002), v)) }
        if let v = PhotometricInterpretation { ds.set(text(Tag(0x0028, 0x0004), .CS, v)) }
        if let v = PlanarConfiguration { ds.set(us(Tag(0x0028, 0x0006), v)) }
        if let v = NumberOfFrames { ds.set(text(Tag(0x0028, 0x0008), .IS, v)) }
        if let v = Rows { ds.set(us(Tag(0x0028, 0x0010), v)) }
        if let v = Columns { ds.set(us(Tag(0x0028, 0x0011), v)) }
        if let v = BitsAllocated { ds.set(us(Tag(0x0028, 0x0100), v)) }
        if let v = BitsStored { ds.set(us(Tag(0x0028, 0x0101), v)) }
        if let v = HighBit { ds.set(us(Tag(0x0028, 0x0102), v)) }
        if let v = PixelRepresentation { ds.set(us(Tag(0x0028, 0x0103), v)) }
        return ds
    }
}

/// Decodes frame `frame` of a fixture case the way dwc's callers do: native data swapped to
/// little endian and sliced with the description's frame geometry; encapsulated frames as they are.
func decodeFixtureFrame(_ c: FixtureManifest.Case, _ frame: FixtureManifest.Frame) throws -> DecodedFrame {
    let description = try PixelDescription(dataSet: c.attributes.dataSet, transferSyntaxUID: c.transferSyntax)
    if let native = c.native {
        var data = try CodecFixtures.bytes(native.file)
        if native.bigEndian {
            let vr = VR(rawValue: native.vr) ?? .OB
            NativeDecoder.swapBytes(&data, wordSize: NativeDecoder.bigEndianWordSize(bitsAllocated: description.bitsAllocated, vr: vr))
        }
        let start = description.nativeFrameStart(index: frame.index)
        let count = description.nativeFrameByteCount(bitOffset: start.bitOffset)
        let end = min(data.count, start.byteOffset + count)
        let slice = start.byteOffset < end ? Array(data[start.byteOffset..<end]) : []
        return try NativeDecoder().decode(slice, description: description, bitOffset: start.bitOffset)
    }
    guard let file = frame.file else { throw FixtureError.script("case \(c.name) frame \(frame.index) has no frame file") }
    return try DecoderRegistry.decode(try CodecFixtures.bytes(file), description: description)
}

/// Compares decoded samples with expected ones: the largest difference and how many differ.
func compare(_ decoded: DecodedFrame, _ expected: [Int]) -> (maxDifference: Int, differing: Int)? {
    let values = decoded.values()
    guard values.count == expected.count else { return nil }
    var maxDifference = 0, differing = 0
    for i in 0..<values.count where values[i] != expected[i] {
        differing += 1
        maxDifference = max(maxDifference, abs(values[i] - expected[i]))
    }
    return (maxDifference, differing)
}
