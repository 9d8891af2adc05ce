import DicomCore
import DicomIndex
import DicomParser
@testable import DwcKit
import Foundation
import Testing

/// `dwc search` run as a process, and SearchOperation in process, over an indexed sample archive.
/// `swift test --filter SearchTests` runs these with the DicomIndex ones.
@Suite struct SearchTests {
    /// The sample archive (6 studies, 12 series, 36 instances) plus one study with a comma, a
    /// quote and LIKE metacharacters in its values, indexed with `dwc index`.
    final class Archive {
        let files: SampleFiles
        var directory: String { files.directory }
        var index: String { directory + "/.dwc/index.sqlite" }

        init(indexed: Bool = true) throws {
            files = try SampleFiles()
            var ds = SampleArchive().instances()[0].dataSet
            func text(_ keyword: String, _ value: String) {
                let entry = DataDictionary.entry(keyword: keyword)!
                ds.set(DataElement(tag: entry.tag, vr: entry.vr,
                                   bytes: entry.vr == .UI ? DicomWriter.uidBytes(value) : DicomWriter.textBytes(value)))
            }
            text("StudyInstanceUID", "2.25.777")
            text("SeriesInstanceUID", "2.25.777.1")
            text("SOPInstanceUID", "2.25.777.1.1")
            text("StudyDescription", "Head, \"neck\"")
            text("AccessionNumber", "100%")
            text("PatientName", "O'Brien^Seán")
            text("PatientID", "PID9")
            text("StudyDate", "20250101")
            try FileManager.default.createDirectory(atPath: directory + "/extra dir", withIntermediateDirectories: true)
            try Data(try DicomWriter().part10(dataSet: ds, syntax: .explicitVRLittleEndian))
                .write(to: URL(fileURLWithPath: directory + "/extra dir/obrien.dcm"))
            if indexed {
                let r = try SearchTests.dwc(["index", "-A", directory, "-q"])
                #expect(r.status == 0, "\(r.stderr)")
            }
        }

        func search(_ arguments: [String]) throws -> DwcProcess.Result {
            try SearchTests.dwc(["search", "-A", directory] + arguments)
        }
    }

    /// The dwc built with these tests (same scratch directory), else DwcProcess's.
    static var binary: String {
        let beside = Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent("dwc").path
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("dwc").path
        for candidate in [beside, argv0].compactMap({ $0 }) where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return DwcProcess.binary
    }

    static func dwc(_ arguments: [String], environment: [String: String] = [:]) throws -> DwcProcess.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errPath = NSTemporaryDirectory() + "dwc-search-stderr-\(UUID().uuidString)"
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

    func array(_ r: DwcProcess.Result) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]])
    }

    func strings(_ object: [String: Any], _ key: String) -> [String]? {
        (object[key] as? [String: Any])?["Value"] as? [String]
    }

    // MARK: Formats

    @Test func jsonIsAnArrayInOrderAndEmptyWhenNothingMatches() throws {
        let a = try Archive()
        let r = try a.search(["studies"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        let studies = try array(r)
        #expect(studies.count == 7)
        #expect(studies.map { strings($0, "00080020")?.first ?? "" } == ["20240110", "20240111", "20240210", "20240211", "20240310", "20240311", "20250101"])
        #expect(studies.allSatisfy { ($0["00201208"] as? [String: Any])?["Value"] as? [Int] != nil })
        // Pretty: members indented inside the array, keys in tag order.
        let lines = r.text.split(separator: "\n")
        #expect(lines.first == "[" && lines.last == "]")
        #expect(lines[1] == "  {")
        let keys = lines.filter { $0.hasPrefix("    \"") }.map { String($0.dropFirst(5).prefix(8)) }
        #expect(keys.count == 7 * 15)
        for study in 0..<7 {
            let one = Array(keys[study * 15..<(study + 1) * 15])
            #expect(one == one.sorted())
        }
        let none = try a.search(["studies", "-k", "PatientID=nobody"])
        #expect(none.status == 0)
        #expect(none.text == "[]\n")
        let compact = try a.search(["studies", "--compact", "-k", "PatientID=PID1"])
        #expect(compact.text.split(separator: "\n").count == 1)
        #expect(try array(compact).count == 2)
    }

    @Test func ndjsonIsOneObjectPerLine() throws {
        let a = try Archive()
        let r = try a.search(["series", "--format", "ndjson", "--study", "2.25.100000"])
        #expect(r.status == 0)
        let lines = r.text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines.last == "", "two objects, each ending with a newline")
        for line in lines.dropLast() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(strings(object, "0020000D") == ["2.25.100000"])
            #expect((object["00201209"] as? [String: Any])?["Value"] as? [Int] == [3])
        }
        let none = try a.search(["series", "--format", "ndjson", "-k", "Modality=XA"])
        #expect(none.status == 0)
        #expect(none.stdout.isEmpty)
    }

    @Test func csvQuotesPerRFC4180() throws {
        let a = try Archive()
        let r = try a.search(["studies", "--format", "csv", "-k", "AccessionNumber=100%", "-k", "StudyDescription"])
        #expect(r.status == 0)
        let lines = r.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        let header = lines[0].split(separator: ",").map(String.init)
        #expect(header.first == "StudyDate")
        #expect(header.contains("PatientName") && header.contains("StudyDescription") && !header.contains("SpecificCharacterSet"))
        #expect(lines[1].contains(",\"Head, \"\"neck\"\"\","), "\(lines[1])")
        #expect(lines[1].contains(",O'Brien^Seán,"))
        #expect(lines[1].contains(",100%,"))
        let none = try a.search(["studies", "--format", "csv", "-k", "PatientID=nobody"])
        #expect(none.text.split(separator: "\n").count == 1, "just the header")
    }

    @Test func pathsAreAbsoluteFilesInInstanceOrder() throws {
        let a = try Archive()
        let instances = try a.search(["instances", "--format", "paths", "--series", "2.25.100000.1"])
        let paths = instances.text.split(separator: "\n").map(String.init)
        #expect(paths == (1...3).map { "\(a.directory)/patient0/study0/series0/2.25.100000.1.\($0).dcm" })
        let study = try a.search(["studies", "--format", "paths", "-k", "PatientID=PID0"])
        let studyPaths = study.text.split(separator: "\n").map(String.init)
        #expect(studyPaths.count == 12)
        #expect(studyPaths.allSatisfy { $0.hasPrefix("/") && FileManager.default.fileExists(atPath: $0) })
        #expect(studyPaths == studyPaths.sorted(), "study 0 then 1, series 0 then 1, instances 1-3")
        let spaced = try a.search(["instances", "--format", "paths", "-k", "PatientID=PID9"])
        #expect(spaced.text == a.directory + "/extra dir/obrien.dcm\n")
        let none = try a.search(["series", "--format", "paths", "-k", "Modality=XA"])
        #expect(none.status == 0 && none.stdout.isEmpty)
        let paged = try a.search(["series", "--format", "paths", "--limit", "1", "--offset", "1"])
        #expect(paged.text.split(separator: "\n").map { String($0) }.allSatisfy { $0.contains("/study0/series1/") })
    }

    @Test func instancesCarryAFileRetrieveURL() throws {
        let a = try Archive()
        let r = try a.search(["instances", "-k", "PatientID=PID9"])
        let instance = try #require(try array(r).first)
        #expect(strings(instance, "00081190") == ["file://" + a.directory + "/extra%20dir/obrien.dcm"])
        #expect(strings(instance, "00083002") == ["1.2.840.10008.1.2.1"])
        #expect(strings(instance, "0020000E") == ["2.25.777.1"])
        // The archive from the environment, relative to the working directory.
        let env = try SearchTests.dwc(["search", "instances", "-k", "PatientID=PID9", "--format", "paths"], environment: ["DWC_ARCHIVE": a.directory])
        #expect(env.text == a.directory + "/extra dir/obrien.dcm\n")
    }

    /// --base-url (or DWC_BASE_URL): the DICOMweb RetrieveURL of studies, series and instances,
    /// in JSON and NDJSON; without it only instances have one (their file).
    @Test func baseURLGivesDICOMwebRetrieveURLsAtEveryLevel() throws {
        let a = try Archive()
        func objects(_ r: DwcProcess.Result, ndjson: Bool) throws -> [[String: Any]] {
            #expect(r.status == 0, "\(r.stderr)")
            if !ndjson { return try array(r) }
            return try r.text.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
        let base = "http://pacs.example:8080/dicomweb"
        let expected = [("studies", base + "/studies/2.25.777"), ("series", base + "/studies/2.25.777/series/2.25.777.1"),
                        ("instances", base + "/studies/2.25.777/series/2.25.777.1/instances/2.25.777.1.1")]
        for ndjson in [false, true] {
            for (level, url) in expected {
                // Trailing slashes are not doubled.
                let r = try a.search([level, "-k", "PatientID=PID9", "--base-url", base + "//"] + (ndjson ? ["--format", "ndjson"] : []))
                let results = try objects(r, ndjson: ndjson)
                #expect(results.count == 1)
                #expect(results.first.flatMap { strings($0, "00081190") } == [url], "\(level), ndjson: \(ndjson)")
            }
        }
        // From the environment; an empty variable is unset.
        let env = try SearchTests.dwc(["search", "-A", a.directory, "series", "-k", "PatientID=PID9", "--format", "ndjson"],
                                      environment: ["DWC_BASE_URL": "https://h/wado/"])
        #expect(try objects(env, ndjson: true).first.flatMap { strings($0, "00081190") } == ["https://h/wado/studies/2.25.777/series/2.25.777.1"])
        let option = try SearchTests.dwc(["search", "-A", a.directory, "studies", "-k", "PatientID=PID9", "--base-url", "file:///srv/web"],
                                         environment: ["DWC_BASE_URL": "https://ignored"])
        #expect(try objects(option, ndjson: false).first.flatMap { strings($0, "00081190") } == ["file:///srv/web/studies/2.25.777"],
                "the option wins over the environment")
        let unset = try SearchTests.dwc(["search", "-A", a.directory, "instances", "-k", "PatientID=PID9"], environment: ["DWC_BASE_URL": ""])
        #expect(try objects(unset, ndjson: false).first.flatMap { strings($0, "00081190") } == ["file://" + a.directory + "/extra%20dir/obrien.dcm"])
        // Without a base: studies and series have none, unless --field all (zero-length).
        for level in ["studies", "series"] {
            let plain = try objects(try a.search([level, "-k", "PatientID=PID9"]), ndjson: false)
            #expect(plain.first?["00081190"] == nil, "\(level)")
            let all = try objects(try a.search([level, "-k", "PatientID=PID9", "--field", "all"]), ndjson: false)
            #expect((all.first?["00081190"] as? [String: Any])?["vr"] as? String == "UR")
            #expect((all.first?["00081190"] as? [String: Any])?["Value"] == nil)
            let asked = try a.search([level, "--field", "RetrieveURL"])
            #expect(asked.status == 1 && asked.stderr.contains("--base-url"), "\(asked.stderr)")
        }
        let csv = try a.search(["studies", "-k", "PatientID=PID9", "--format", "csv", "--base-url", base])
        let rows = csv.text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let column = try #require(rows.first?.firstIndex(of: "RetrieveURL"))
        #expect(rows.count == 2 && rows[1][column] == base + "/studies/2.25.777", "\(csv.text)")
    }

    @Test func badBaseURLsExitWithOne() throws {
        let a = try Archive()
        for bad in ["ftp://h/x", "pacs.example/dicomweb", "http://h/x?a=1", "http://h/x#f", "http:///x", "https://", "http://h x"] {
            let r = try a.search(["studies", "--base-url", bad])
            #expect(r.status == 1, "\(bad)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderr.hasPrefix("E: --base-url \(bad): ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
        let env = try SearchTests.dwc(["search", "-A", a.directory, "studies"], environment: ["DWC_BASE_URL": "gopher://h"])
        #expect(env.status == 1)
        #expect(env.stderr.contains("DWC_BASE_URL=gopher://h"))
    }

    @Test func tableAlignsColumnsForPeople() throws {
        let a = try Archive()
        let r = try a.search(["studies", "--format", "table", "-k", "PatientSex"])
        #expect(r.status == 0)
        let lines = r.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 8)
        #expect(lines[0].hasPrefix("PatientName"))
        #expect(lines[0].hasSuffix("PatientSex"), "a named key becomes a column")
        // Every row starts its PatientID column where the header does (widths in characters).
        let column = try #require(lines[0].range(of: "PatientID")).lowerBound
        let offset = lines[0].distance(from: lines[0].startIndex, to: column)
        for line in lines.dropFirst() {
            let cells = Array(line)
            #expect(cells[offset - 1] == " " && cells[offset] == "P", "\(line)")
        }
        #expect(lines.contains { $0.hasPrefix("Šimková^Eva ") })
    }

    // MARK: Errors

    @Test func badKeysAndValuesExitWithOne() throws {
        let a = try Archive()
        let unknown = try a.search(["studies", "-k", "NoSuchThing=1"])
        #expect(unknown.status == 1)
        #expect(unknown.stdout.isEmpty)
        #expect(unknown.stderr.hasPrefix("E: -k NoSuchThing=1: "))
        #expect(unknown.stderr.contains("matching keys at study level:"))
        let unsupported = try a.search(["series", "-k", "PatientWeight=70"])
        #expect(unsupported.status == 1)
        #expect(unsupported.stderr.contains("SeriesDescription"))
        #expect(try a.search(["studies", "-k", "Modality=CT"]).status == 1)
        #expect(try a.search(["studies", "-k", "StudyDate=2024-13"]).status == 1)
        #expect(try a.search(["studies", "--field", "PatientWeight"]).status == 1)
        #expect(try a.search(["studies", "--series", "1.2"]).status == 1)
        #expect(try a.search(["studies", "--limit", "-1"]).status == 1)
        #expect(try a.search(["patients"]).status == 1)
        #expect(try a.search(["studies", "--format", "xml"]).status == 1)
    }

    @Test func missingForeignAndStaleIndexes() throws {
        let a = try Archive(indexed: false)
        let missing = try a.search(["studies"])
        #expect(missing.status == 80)
        #expect(missing.stderr.contains("run dwc index first"))
        #expect(!FileManager.default.fileExists(atPath: a.index), "searching creates nothing")
        let junk = a.directory + "/junk.sqlite"
        try Data("this is not an SQLite database at all, just text".utf8).write(to: URL(fileURLWithPath: junk))
        let foreign = try SearchTests.dwc(["search", "--index", junk, "studies"])
        #expect(foreign.status == 80)
        #expect(foreign.stderr.split(separator: "\n").count == 1)
        #expect(foreign.stderr.contains("not an SQLite database"))
        // An SQLite file that is not an index.
        let other = a.directory + "/other.sqlite"
        try SQLiteDatabase(path: other).execute("CREATE TABLE t(x)")
        let notIndex = try SearchTests.dwc(["search", "--index", other, "studies"])
        #expect(notIndex.status == 80)
        // Stale: made by another attribute set.
        #expect(try SearchTests.dwc(["index", "-A", a.directory, "-q"]).status == 0)
        #expect(try a.search(["studies", "--format", "ndjson"]).text.split(separator: "\n").count == 7)
        try SQLiteDatabase(path: a.index).execute("UPDATE dwc_meta SET value = 'other' WHERE key = 'attribute_signature'")
        let stale = try a.search(["studies"])
        #expect(stale.status == 81)
        #expect(stale.stderr.contains("dwc index --rebuild"))
    }

    @Test func aClosedPipeEndsQuietly() throws {
        let a = try Archive()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\"$0\" search -A \"$1\" instances --format paths | head -n 1 >/dev/null", SearchTests.binary, a.directory]
        let err = Pipe()
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        #expect(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).isEmpty)
    }

    // MARK: In process

    @Test func retrieveURLsEncodeLikeBulkDataURIs() throws {
        let operation = SearchOperation(location: ArchiveLocation(archive: "/tmp/a b/ü", index: "/dev/null"), query: SearchQuery(level: .instance))
        let url = operation.fileURL
        for stored in ["x.dcm", "dir with space/100%_[1]~.dcm", "é/日本.dcm", "/abs/olute#?.dcm"] {
            let absolute = stored.hasPrefix("/") ? stored : "/tmp/a b/ü/" + stored
            #expect(url(stored) == BulkDataURI.fileURI(path: absolute), "\(stored)")
        }
    }

    @Test func operationStreamsEachFormat() throws {
        let a = try Archive()
        var query = SearchQuery(level: .series)
        query.keys = [try QueryKey(parsing: "PatientName=müller*")]
        var operation = SearchOperation(location: ArchiveLocation(archive: a.directory, index: nil), query: query)
        func output(_ format: SearchOperation.Format, pretty: Bool = true) throws -> (String, Int) {
            operation.format = format
            operation.pretty = pretty
            var bytes: [UInt8] = []
            var pieces = 0
            let count = try operation.run(write: { bytes += $0; pieces += 1 })
            #expect(pieces >= count, "written row by row")
            return (String(decoding: bytes, as: UTF8.self), count)
        }
        let (json, count) = try output(.json)
        #expect(count == 4)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(parsed.map { ($0["00200011"] as? [String: Any])?["Value"] as? [Int] ?? [] } == [[1], [2], [1], [2]])
        let (compact, _) = try output(.json, pretty: false)
        #expect(compact.hasPrefix("[{\"00080005\":") && compact.hasSuffix("}]\n"))
        let (ndjson, _) = try output(.ndjson)
        #expect(ndjson.split(separator: "\n").count == 4)
        let (csv, _) = try output(.csv)
        #expect(csv.split(separator: "\n").first?.hasPrefix("Modality,SeriesDescription,") == true)
        let (paths, files) = try output(.paths)
        #expect(files == 12 && paths.split(separator: "\n").count == 12)
        let (table, _) = try output(.table)
        #expect(table.split(separator: "\n").first?.hasPrefix("PatientName    StudyDate  Modality") == true)
        #expect(table.contains("Müller^Jürgen  20240210   CT"))
    }
}
