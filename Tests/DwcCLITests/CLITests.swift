import DicomCore
import DicomParser
import DwcKit
import Foundation
import Testing

/// Runs the built `dwc` binary as a user would: exit codes, stdout/stderr separation, stdin.
struct DwcProcess {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: String {
        // DWC_BINARY names the binary when it was built elsewhere (e.g. `--scratch-path`).
        if let path = ProcessInfo.processInfo.environment["DWC_BINARY"], !path.isEmpty { return path }
        for configuration in ["debug", "release"] {
            let path = packageRoot.appendingPathComponent(".build/\(configuration)/dwc").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return packageRoot.appendingPathComponent(".build/debug/dwc").path
    }

    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    static func run(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // stderr goes to a file, so a chatty child cannot block on a full pipe while we read stdout.
        let errPath = NSTemporaryDirectory() + "dwc-stderr-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let out = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try err.close()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Result(status: process.terminationStatus, stdout: outData, stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// A temporary directory with the sample archive written into it.
final class SampleFiles {
    let directory: String
    let paths: [String]

    init() throws {
        directory = NSTemporaryDirectory() + "dwc-cli-\(UUID().uuidString)"
        paths = try SampleArchive().write(to: directory).sorted()
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite struct CLITests {
    @Test func versionNamesTheLinkedLibraries() throws {
        let r = try DwcProcess.run(["--version"])
        #expect(r.status == 0)
        #expect(r.text.hasPrefix("dwc \(DwcKit.version)"))
        #expect(r.text.contains("zlib 1."))
        #expect(r.text.contains("SQLite 3."))
    }

    @Test func helpListsCommandsAndExitCodes() throws {
        let r = try DwcProcess.run(["--help"])
        #expect(r.status == 0)
        #expect(r.text.contains("dump"))
        #expect(r.text.contains("84  a frame number is out of range"))
        let dump = try DwcProcess.run(["dump", "--help"])
        #expect(dump.text.contains("--stop-before-pixels"))
        #expect(dump.text.contains("--inline-threshold"))
    }

    @Test func usageErrorsExitWithOne() throws {
        let unknown = try DwcProcess.run(["dump", "--no-such-option", "x"])
        #expect(unknown.status == 1)
        #expect(unknown.stdout.isEmpty)
        #expect(!unknown.stderr.isEmpty)
        let badFormat = try DwcProcess.run(["dump", "--format", "xml", "x"])
        #expect(badFormat.status == 1)
    }

    @Test func dumpsTextWithKeywordsAndValues() throws {
        let files = try SampleFiles()
        let r = try DwcProcess.run(["dump", files.paths[0]])
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty)
        #expect(r.text.contains("(0010,0010) PN [Doe^Jane]"))
        #expect(r.text.contains("# Dicom-Meta-Information-Header"))
        #expect(r.text.contains("PatientName"))
    }

    @Test func dumpsJSONThatMatchesTheFile() throws {
        let files = try SampleFiles()
        let r = try DwcProcess.run(["dump", "--format", "json", "--inline-threshold", "0", files.paths[1]])
        #expect(r.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let name = ((object["00100010"] as? [String: Any])?["Value"] as? [[String: String]])?.first?["Alphabetic"]
        #expect(name == "Doe^Jane")
        let rows = ((object["00280010"] as? [String: Any])?["Value"] as? [Int])?.first
        #expect(rows == 32)
        let pixel = try #require(object["7FE00010"] as? [String: Any])
        let uri = try #require(pixel["BulkDataURI"] as? String)
        #expect(uri.hasPrefix("file:///"))
        #expect(uri.contains("?offset="))
        // Keys are in ascending tag order.
        let keys = try #require(String(decoding: r.stdout, as: UTF8.self).split(separator: "\n")
            .filter { $0.hasPrefix("  \"") }.map { String($0.dropFirst(3).prefix(8)) } as [String]?)
        #expect(keys == keys.sorted())
    }

    @Test func readsAPart10StreamFromStdin() throws {
        let files = try SampleFiles()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: files.paths[2]))
        let piped = try DwcProcess.run(["dump", "--format", "json", "--compact", "-"], stdin: bytes)
        let direct = try DwcProcess.run(["dump", "--format", "json", "--compact", "--inline-threshold", "100000", files.paths[2]])
        #expect(piped.status == 0)
        #expect(direct.status == 0)
        // stdin has no file to refer to: the pixel data is inlined below the threshold or omitted.
        let pipedObject = try #require(try JSONSerialization.jsonObject(with: piped.stdout) as? [String: Any])
        let directObject = try #require(try JSONSerialization.jsonObject(with: direct.stdout) as? [String: Any])
        #expect(Set(pipedObject.keys) == Set(directObject.keys))
        let empty = try DwcProcess.run(["dump", "-"], stdin: Data())
        #expect(empty.status == 21)
    }

    @Test func severalFilesMakeAnArrayAndFailuresDoNotStopTheOthers() throws {
        let files = try SampleFiles()
        let junk = files.directory + "/junk.txt"
        try Data("this is not DICOM, only text that goes on for a while".utf8).write(to: URL(fileURLWithPath: junk))
        let missing = files.directory + "/missing.dcm"
        let r = try DwcProcess.run(["dump", "--format", "json", files.paths[0], junk, files.paths[1], missing])
        #expect(r.status == 22, "the first failure's status")
        let array = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]])
        #expect(array.count == 2)
        let errors = r.stderr.split(separator: "\n")
        #expect(errors.count == 2)
        #expect(errors[0].hasPrefix("E: \(junk): not a DICOM file"))
        #expect(errors[1].hasPrefix("E: \(missing): cannot open"))
        #expect(try DwcProcess.run(["dump", missing]).status == 21)
        #expect(try DwcProcess.run(["dump", files.directory]).status == 20)
    }

    @Test func strictModeRejectsDefectsLenientModeWarns() throws {
        let files = try SampleFiles()
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: files.paths[0])))
        bytes += [0, 0, 0]  // trailing padding
        let path = files.directory + "/padded.dcm"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let lenient = try DwcProcess.run(["dump", path])
        #expect(lenient.status == 0)
        #expect(lenient.stderr.contains("W: \(path): 3 trailing bytes"))
        let quiet = try DwcProcess.run(["dump", "-q", path])
        #expect(quiet.stderr.isEmpty)
        let strict = try DwcProcess.run(["dump", "--strict", path])
        #expect(strict.status == 22)
        #expect(strict.stderr.hasPrefix("E: \(path): 3 trailing bytes"))
    }

    @Test func stopBeforePixelsOmitsPixelData() throws {
        let files = try SampleFiles()
        let r = try DwcProcess.run(["dump", "--format", "json", "--stop-before-pixels", files.paths[0]])
        let object = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(object["7FE00010"] == nil)
        #expect(object["00280010"] != nil)
    }

    @Test func aClosedPipeEndsQuietly() throws {
        let files = try SampleFiles()
        let many = Array(repeating: files.paths[0], count: 200)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\"$0\" dump \"$@\" | head -c 10 >/dev/null; exit ${PIPESTATUS:-0}", DwcProcess.binary] + many
        let err = Pipe()
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(stderr.isEmpty, "no error message when the reader goes away")
    }
}
