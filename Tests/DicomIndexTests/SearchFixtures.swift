import DicomCore
import DicomIndex
import DicomParser
import Foundation
import Testing

// Swift Testing has a Tag type of its own.
typealias Tag = DicomCore.Tag

/// One instance to index: its UIDs, character set and attribute values by keyword.
struct TestInstance {
    var study: String
    var series: String
    var sop: String
    /// Value of (0008,0005), or nil for none. Text values are encoded accordingly: Latin-1 for
    /// ISO_IR 100, UTF-8 otherwise; `raw` gives bytes as they stand (ISO 2022 escapes).
    var characterSet: String? = "ISO_IR 192"
    var values: [String: String] = [:]
    var raw: [String: [UInt8]] = [:]
    var path: String?

    init(study: String, series: String, sop: String, characterSet: String? = "ISO_IR 192",
         _ values: [String: String] = [:], raw: [String: [UInt8]] = [:], path: String? = nil) {
        self.study = study
        self.series = series
        self.sop = sop
        self.characterSet = characterSet
        self.values = values
        self.raw = raw
        self.path = path
    }

    var dataSet: DataSet {
        var ds = DataSet()
        func bytes(_ text: String, _ vr: VR) -> [UInt8] {
            var b: [UInt8]
            if vr == .US {
                let n = Int(text)!
                return [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF)]
            }
            if characterSet == "ISO_IR 100" {
                b = text.unicodeScalars.map { UInt8($0.value) }
            } else {
                b = Array(text.utf8)
            }
            if b.count % 2 == 1 { b.append(vr.paddingByte) }
            return b
        }
        func set(_ keyword: String, _ text: String) {
            let entry = DataDictionary.entry(keyword: keyword)!
            ds.set(DataElement(tag: entry.tag, vr: entry.vr, bytes: bytes(text, entry.vr)))
        }
        if let characterSet { set("SpecificCharacterSet", characterSet) }
        set("SOPClassUID", values["SOPClassUID"] ?? "1.2.840.10008.5.1.4.1.1.2")
        set("SOPInstanceUID", sop)
        set("StudyInstanceUID", study)
        set("SeriesInstanceUID", series)
        if values["Modality"] == nil { set("Modality", "CT") }
        for (keyword, value) in values where keyword != "SOPClassUID" { set(keyword, value) }
        for (keyword, value) in raw {
            let entry = DataDictionary.entry(keyword: keyword)!
            var b = value
            if b.count % 2 == 1 { b.append(entry.vr.paddingByte) }
            ds.set(DataElement(tag: entry.tag, vr: entry.vr, bytes: b))
        }
        return ds
    }

    /// Written as Part 10 and read back, as `dwc index` would see it.
    func record(cache: SearchValueCache? = nil) throws -> InstanceRecord {
        let ds = dataSet
        let bytes = try DicomWriter().part10(dataSet: ds, syntax: .explicitVRLittleEndian)
        let storedPath = path ?? "files/\(sop).dcm"
        let file = try DicomReader(options: ParseOptions(stopBefore: .pixelData))
            .read(from: MemoryByteSource(name: storedPath, bytes: bytes))
        return try InstanceRecord(file: file, path: storedPath,
                                  stamp: .init(size: Int64(bytes.count), mtimeNanoseconds: 1, inode: 1), cache: cache)
    }
}

/// A fresh index in a temporary directory.
final class TestIndex {
    let directory: String
    let index: ArchiveIndex

    init(_ instances: [TestInstance] = []) throws {
        directory = NSTemporaryDirectory() + "dwc-search-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        index = try ArchiveIndex(path: directory + "/index.sqlite", create: true)
        try add(instances)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func add(_ instances: [TestInstance]) throws {
        guard !instances.isEmpty else { return }
        _ = try index.record(try instances.map { .instance(try $0.record()) }, isLive: { _ in true })
    }

    /// Runs a search given as command-line keys ("PatientName=Doe*", "StudyDate").
    func search(_ level: QueryLevel, _ keys: [String] = [], configure: (inout SearchQuery) -> Void = { _ in },
                retrieveURL: ((SearchRow) -> String?)? = nil) throws -> [SearchResult] {
        var query = SearchQuery(level: level)
        query.keys = try keys.map { try QueryKey(parsing: $0) }
        configure(&query)
        var results: [SearchResult] = []
        try index.search(try query.plan(), retrieveURL: retrieveURL) { results.append($0) }
        return results
    }

    /// The UIDs of the level's results, in result order.
    func uids(_ level: QueryLevel, _ keys: [String] = [], configure: (inout SearchQuery) -> Void = { _ in }) throws -> [String] {
        let tag: Tag
        switch level {
        case .study: tag = .studyInstanceUID
        case .series: tag = .seriesInstanceUID
        case .instance: tag = .sopInstanceUID
        }
        return try search(level, keys, configure: configure).map { $0.value(tag)?.description ?? "?" }
    }

    func paths(_ level: QueryLevel, _ keys: [String] = [], configure: (inout SearchQuery) -> Void = { _ in }) throws -> [String] {
        var query = SearchQuery(level: level)
        query.keys = try keys.map { try QueryKey(parsing: $0) }
        configure(&query)
        var paths: [String] = []
        try index.searchPaths(try query.plan()) { paths.append($0) }
        return paths
    }
}

/// A study of one series of one instance, with study-level values.
func study(_ uid: String, characterSet: String? = "ISO_IR 192", _ values: [String: String] = [:],
           raw: [String: [UInt8]] = [:]) -> TestInstance {
    TestInstance(study: uid, series: uid + ".1", sop: uid + ".1.1", characterSet: characterSet, values, raw: raw)
}

/// Expects the search to fail as a query error (exit status 1) whose message contains `text`.
func expectQueryError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("no error; expected one mentioning \(text)", sourceLocation: sourceLocation)
    } catch let error as IndexError {
        #expect(error.kind == .query, sourceLocation: sourceLocation)
        #expect(error.description.contains(text), "\(error.description)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

/// The DICOM JSON of a result as Foundation objects.
func jsonObject(_ result: SearchResult) throws -> [String: Any] {
    let text = try DicomJSONEncoder().encode(result.dataSet)
    return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

/// ISO 2022 IR 87 bytes of "Yamada^Tarou=山田^太郎=やまだ^たろう" (PS3.5 Annex H.3.1).
let yamadaISO2022: [UInt8] = [
    0x59, 0x61, 0x6D, 0x61, 0x64, 0x61, 0x5E, 0x54, 0x61, 0x72, 0x6F, 0x75, 0x3D, 0x1B, 0x24, 0x42, 0x3B, 0x33,
    0x45, 0x44, 0x1B, 0x28, 0x42, 0x5E, 0x1B, 0x24, 0x42, 0x42, 0x40, 0x4F, 0x3A, 0x1B, 0x28, 0x42, 0x3D, 0x1B,
    0x24, 0x42, 0x24, 0x64, 0x24, 0x5E, 0x24, 0x40, 0x1B, 0x28, 0x42, 0x5E, 0x1B, 0x24, 0x42, 0x24, 0x3F, 0x24,
    0x6D, 0x24, 0x26, 0x1B, 0x28, 0x42,
]
