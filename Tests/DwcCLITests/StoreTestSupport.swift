import DicomCore
import DicomIndex
import DicomParser
import DwcKit
import Foundation
import Testing

/// A scratch folder with inputs and an archive for `dwc store` tests.
final class StoreScratch {
    let directory: String
    var inputs: String { directory + "/inputs" }
    var archive: String { directory + "/archive" }
    var indexPath: String { archive + "/.dwc/index.sqlite" }

    init(_ name: String = "store") throws {
        directory = NSTemporaryDirectory() + "dwc-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/inputs", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// The 36 sample files, plus `variants` more copies of each with other UIDs (new studies,
    /// series and instances), in the native syntaxes. Returns the paths, sorted.
    @discardableResult
    func writeSamples(variants: Int = 0, into folder: String? = nil) throws -> [String] {
        let target = folder ?? inputs
        var paths = try SampleArchive().write(to: target)
        let writer = DicomWriter()
        for variant in 0..<variants {
            for instance in SampleArchive().instances() {
                var ds = instance.dataSet
                for tag in [DicomCore.Tag.studyInstanceUID, .seriesInstanceUID, .sopInstanceUID] {
                    let uid = try #require(ds.string(tag))
                    ds.set(DataElement(tag: tag, vr: .UI, bytes: DicomWriter.uidBytes(uid + ".\(variant + 7)")))
                }
                let syntax = instance.syntax.isDeflated ? TransferSyntax.explicitVRLittleEndian : instance.syntax
                let path = target + "/variant\(variant)/" + instance.path
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(try writer.part10(dataSet: ds, syntax: syntax)).write(to: URL(fileURLWithPath: path))
                paths.append(path)
            }
        }
        return paths.sorted()
    }

    /// Writes a Part 10 file (or a raw data set) into the inputs; returns its path.
    @discardableResult
    func write(_ name: String, dataSet: DataSet, meta: DataSet? = nil, syntax: TransferSyntax = .explicitVRLittleEndian, raw: Bool = false) throws -> String {
        let writer = DicomWriter()
        let bytes = raw ? try writer.encode(dataSet, syntax: syntax) : try writer.part10(dataSet: dataSet, meta: meta, syntax: syntax)
        return try write(name, bytes: bytes)
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let path = inputs + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func store(_ arguments: [String], stdin: Data? = nil) throws -> StoreRun {
        StoreRun(try DwcProcess.run(["store", "-A", archive, "--compact"] + arguments, stdin: stdin))
    }

    /// Index rows: SOP Instance UID → stored path (relative).
    func indexRows() throws -> [String: String] {
        guard FileManager.default.fileExists(atPath: indexPath) else { return [:] }
        // Read-write, as the next dwc process would open it: a read-only connection cannot recover
        // the WAL of a killed writer.
        let db = try SQLiteDatabase(path: indexPath, readOnly: false)
        // A process killed while creating the index may leave it without tables: no rows then.
        let tables = try db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'instances'")
        guard try tables.step(), tables.int(0) == 1 else { return [:] }
        tables.reset()
        let statement = try db.prepare("SELECT sop_uid, path FROM instances")
        var rows: [String: String] = [:]
        var count = 0
        while try statement.step() {
            rows[statement.text(0) ?? ""] = statement.text(1) ?? ""
            count += 1
        }
        #expect(count == rows.count, "one row per SOP Instance UID")
        return rows
    }

    func integrityCheck() throws -> String {
        let db = try SQLiteDatabase(path: indexPath, readOnly: false)
        let statement = try db.prepare("PRAGMA integrity_check")
        return try statement.step() ? statement.text(0) ?? "" : ""
    }

    /// Files under the archive (relative paths), outside `.dwc`; temporary files apart.
    func archiveFiles() -> (files: [String], temporaries: [String]) {
        var files: [String] = [], temporaries: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: archive) else { return ([], []) }
        while let relative = walker.nextObject() as? String {
            if relative == ".dwc" { walker.skipDescendants(); continue }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: archive + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            if (relative as NSString).lastPathComponent.hasPrefix(".dwc-tmp-") { temporaries.append(relative) } else { files.append(relative) }
        }
        return (files.sorted(), temporaries.sorted())
    }

    func journals() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: archive + "/.dwc/store")) ?? []).filter { $0.hasSuffix(".journal") }
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path.hasPrefix("/") ? path : archive + "/" + path) }
}

/// One `dwc store` run: status, stderr, and the STOW-RS response parsed.
struct StoreRun {
    struct Item {
        var sopClass: String?
        var sop: String?
        var retrieveURL: String?
        var warning: Int?
        var failure: Int?
        var source: String?
        var message: String?

        var storedPath: String? { retrieveURL.map { String($0.dropFirst("file://".count)).removingPercentEncoding ?? $0 } }
    }

    var status: Int32
    var stderr: String
    var stdout: Data
    var referenced: [Item] = []
    var failed: [Item] = []
    var parsed = false

    init(_ result: DwcProcess.Result) {
        status = result.status
        stderr = result.stderr
        stdout = result.stdout
        guard let object = try? JSONSerialization.jsonObject(with: result.stdout) as? [String: Any] else { return }
        parsed = true
        func items(_ key: String) -> [Item] {
            guard let sequence = (object[key] as? [String: Any])?["Value"] as? [[String: Any]] else { return [] }
            return sequence.map { item in
                func first(_ key: String) -> Any? { ((item[key] as? [String: Any])?["Value"] as? [Any])?.first }
                return Item(sopClass: first("00081150") as? String, sop: first("00081155") as? String,
                            retrieveURL: first("00081190") as? String, warning: (first("00081196") as? NSNumber)?.intValue,
                            failure: (first("00081197") as? NSNumber)?.intValue, source: first("00091001") as? String,
                            message: first("00091002") as? String)
            }
        }
        referenced = items("00081199")
        failed = items("00081198")
    }

    func failure(for source: String) -> Item? { failed.first { $0.source == source } }
}


/// The SOP Instance UID of a Part 10 file's bytes.
func sopInstanceUID(of path: String) throws -> String {
    let file = try DicomFileLoader(stopBeforePixels: true).load(path)
    return try #require(file.dataSet.string(.sopInstanceUID))
}

/// Runs any program (a shell around dwc, mount) with stdout and stderr captured.
func runProgram(_ executable: String, _ arguments: [String]) throws -> DwcProcess.Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let errPath = NSTemporaryDirectory() + "dwc-stderr-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let out = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try err.close()
    let errData = FileManager.default.contents(atPath: errPath) ?? Data()
    return DwcProcess.Result(status: process.terminationStatus, stdout: outData, stderr: String(decoding: errData, as: UTF8.self))
}
