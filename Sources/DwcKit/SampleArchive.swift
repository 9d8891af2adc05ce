import DicomCore
import DicomDeflate
import DicomParser
#if canImport(Glibc)
import Glibc
#endif

/// Synthesizes a small, deterministic archive of valid DICOM files in every native transfer
/// syntax, for `make demo` and for tests. Pixel data is a gradient, so renders show something.
public struct SampleArchive: Sendable {
    public struct Instance: Sendable {
        public var path: String
        public var dataSet: DataSet
        public var syntax: TransferSyntax
    }

    public static let syntaxes: [TransferSyntax] = [
        .explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian, .deflatedExplicitVRLittleEndian,
    ]

    public var patients = 3
    public var studiesPerPatient = 2
    public var seriesPerStudy = 2
    public var instancesPerSeries = 3
    public var rows = 32
    public var columns = 32

    public init() {}

    /// The data sets, without writing anything.
    public func instances() -> [Instance] {
        let names = ["Doe^Jane", "Müller^Jürgen", "Šimková^Eva", "Smith^John", "Ødegaard^Åse"]
        let modalities = ["CT", "MR"]
        var result: [Instance] = []
        var counter = 0
        for p in 0..<patients {
            for s in 0..<studiesPerPatient {
                let study = "2.25.1000\(p)\(s)"
                for e in 0..<seriesPerStudy {
                    let series = "\(study).\(e + 1)"
                    for i in 0..<instancesPerSeries {
                        let sop = "\(series).\(i + 1)"
                        let syntax = Self.syntaxes[counter % Self.syntaxes.count]
                        counter += 1
                        var ds = DataSet(isBigEndian: false)
                        let modality = modalities[e % modalities.count]
                        ds.set(text(.specificCharacterSet, .CS, "ISO_IR 192"))
                        ds.set(uid(.sopClassUID, modality == "CT" ? "1.2.840.10008.5.1.4.1.1.2" : "1.2.840.10008.5.1.4.1.1.4"))
                        ds.set(uid(.sopInstanceUID, sop))
                        ds.set(text(Tag(0x0008, 0x0020), .DA, "2024\(String(format2: 1 + p))\(String(format2: 10 + s))"))
                        ds.set(text(Tag(0x0008, 0x0030), .TM, "0930\(String(format2: s))"))
                        ds.set(text(Tag(0x0008, 0x0050), .SH, "ACC\(p)\(s)"))
                        ds.set(text(Tag(0x0008, 0x0060), .CS, modality))
                        ds.set(text(Tag(0x0008, 0x1030), .LO, "Sample study \(s + 1)"))
                        ds.set(text(Tag(0x0008, 0x103E), .LO, "\(modality) series \(e + 1)"))
                        ds.set(text(Tag(0x0010, 0x0010), .PN, names[p % names.count]))
                        ds.set(text(Tag(0x0010, 0x0020), .LO, "PID\(p)"))
                        ds.set(text(Tag(0x0010, 0x0030), .DA, "19\(60 + p)0101"))
                        ds.set(text(Tag(0x0010, 0x0040), .CS, p % 2 == 0 ? "F" : "M"))
                        ds.set(uid(.studyInstanceUID, study))
                        ds.set(uid(.seriesInstanceUID, series))
                        ds.set(text(Tag(0x0020, 0x0010), .SH, "S\(s + 1)"))
                        ds.set(text(Tag(0x0020, 0x0011), .IS, "\(e + 1)"))
                        ds.set(text(Tag(0x0020, 0x0013), .IS, "\(i + 1)"))
                        ds.set(text(Tag(0x0028, 0x0004), .CS, "MONOCHROME2"))
                        ds.set(us(.samplesPerPixel, 1))
                        ds.set(us(.rows, rows))
                        ds.set(us(.columns, columns))
                        ds.set(us(.bitsAllocated, 16))
                        ds.set(us(Tag(0x0028, 0x0101), 12))
                        ds.set(us(Tag(0x0028, 0x0102), 11))
                        ds.set(us(Tag(0x0028, 0x0103), 0))
                        ds.set(text(Tag(0x0028, 0x1050), .DS, "1024"))
                        ds.set(text(Tag(0x0028, 0x1051), .DS, "2048"))
                        var pixels: [UInt8] = []
                        pixels.reserveCapacity(rows * columns * 2)
                        for y in 0..<rows {
                            for x in 0..<columns {
                                let v = UInt16((x + y + i * 7) * 4095 / max(1, rows + columns + 20))
                                pixels.append(UInt8(v & 0xFF)); pixels.append(UInt8(v >> 8))
                            }
                        }
                        ds.set(DataElement(tag: .pixelData, vr: .OW, bytes: pixels))
                        let path = "patient\(p)/study\(s)/series\(e)/\(sop).dcm"
                        result.append(Instance(path: path, dataSet: ds, syntax: syntax))
                    }
                }
            }
        }
        return result
    }

    /// Writes the archive under `directory`; returns the paths written.
    public func write(to directory: String) throws -> [String] {
        let writer = DicomWriter(deflate: ZlibDeflateCodec())
        var written: [String] = []
        for instance in instances() {
            let path = directory + "/" + instance.path
            try makeDirectories(String(path[..<path.lastIndex(of: "/")!]))
            let bytes = try writer.part10(dataSet: instance.dataSet, syntax: instance.syntax)
            try writeFile(path, bytes)
            written.append(path)
        }
        return written
    }
}

private func text(_ tag: Tag, _ vr: VR, _ value: String) -> DataElement {
    DataElement(tag: tag, vr: vr, bytes: DicomWriter.textBytes(value))
}

private func uid(_ tag: Tag, _ value: String) -> DataElement {
    DataElement(tag: tag, vr: .UI, bytes: DicomWriter.uidBytes(value))
}

private func us(_ tag: Tag, _ value: Int) -> DataElement {
    DataElement(tag: tag, vr: .US, bytes: [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)])
}

extension String {
    init(format2 value: Int) { self = String(value).leftPadded(to: 2) }
}

func makeDirectories(_ path: String) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        current += "/" + component
        if mkdir(current, 0o755) != 0, errno != EEXIST {
            throw DwcError(.badOutputDirectory, "\(current): cannot create directory: \(String(cString: strerror(errno)))")
        }
    }
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw DwcError(.cannotWriteOutput, "\(path): cannot create: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            throw DwcError(.cannotWriteOutput, "\(path): write failed: \(String(cString: strerror(errno)))")
        }
        offset += n
    }
}
