import DicomCore
import DicomParser
import DwcKit
import Foundation
import Testing

@Suite struct RetrieveCLITests {
    typealias F = WADOFixtures

    /// A JPEG Baseline file whose pixel data are the given fragments (empty offset table).
    static func encapsulated(sop: String, fragments: [[UInt8]], series: String = "2.25.31337.1", study: String = "2.25.31337") throws -> [UInt8] {
        var ds = SampleArchive().instances()[0].dataSet
        ds.set(F.uid(.sopInstanceUID, sop))
        ds.set(F.uid(.seriesInstanceUID, series))
        ds.set(F.uid(.studyInstanceUID, study))
        ds.remove(.pixelData)
        var bytes = try DicomWriter().part10(dataSet: ds, syntax: TransferSyntax(uid: "1.2.840.10008.1.2.4.50"))
        bytes += [0xE0, 0x7F, 0x10, 0x00] + Array("OB".utf8) + [0, 0, 0xFF, 0xFF, 0xFF, 0xFF]
        bytes += [0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]
        for fragment in fragments {
            bytes += [0xFE, 0xFF, 0x00, 0xE0] + withUnsafeBytes(of: UInt32(fragment.count).littleEndian, Array.init) + fragment
        }
        return bytes + [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]
    }

    /// Every regular file under `directory`, relative to it, hidden ones included.
    static func tree(_ directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(relative)
            }
        }
        return files.sorted()
    }

    static func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// The sample archive's file of a SOP Instance UID.
    static func source(_ files: SampleFiles, sop: String) throws -> String {
        try #require(files.paths.first { $0.hasSuffix("/\(sop).dcm") })
    }

    @Test func aStudyIsWrittenWholeAndNothingElse() throws {
        let files = try SampleFiles()
        try F.index(files.directory)
        let out = try F.Directory()
        let study = "2.25.100011"
        let r = try DwcProcess.run(["retrieve", "-A", files.directory, "--study", study, "-o", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let expected = (1...2).flatMap { e in (1...3).map { i in "\(study)/\(study).\(e)/\(study).\(e).\(i).dcm" } }
        #expect(Self.tree(out.path) == expected)
        for relative in expected {
            let sop = String(relative.split(separator: "/").last!.dropLast(4))
            #expect(Self.contents(out.path + "/" + relative) == Self.contents(try Self.source(files, sop: sop)), "\(relative) is a byte copy")
        }
    }

    @Test func aSeriesFlatFromSearchPathsOrUIDs() throws {
        let files = try SampleFiles()
        try F.index(files.directory)
        let series = "2.25.100020.2"
        let search = try DwcProcess.run(["search", "instances", "-A", files.directory, "--series", series, "--format", "paths"])
        #expect(search.status == 0, "\(search.stderr)")
        let out = try F.Directory()
        let r = try DwcProcess.run(["retrieve", "-A", files.directory, "--uids-from", "-", "-o", out.path, "--layout", "flat"], stdin: search.stdout)
        #expect(r.status == 0, "\(r.stderr)")
        let expected = (1...3).map { "\(series).\($0).dcm" }
        #expect(Self.tree(out.path) == expected)

        let list = out.path + "/../uids-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: list) }
        try Data("\(series).3\n  \(series).1 \n\n".utf8).write(to: URL(fileURLWithPath: list))
        let other = try F.Directory()
        let byUID = try DwcProcess.run(["retrieve", "-A", files.directory, "--uids-from", list, "-o", other.path, "--layout", "x/{series}-{sop}.dcm"])
        #expect(byUID.status == 0, "\(byUID.stderr)")
        #expect(Self.tree(other.path) == ["x/\(series)-\(series).1.dcm", "x/\(series)-\(series).3.dcm"])
        for i in [1, 3] {
            #expect(Self.contents("\(other.path)/x/\(series)-\(series).\(i).dcm") == Self.contents(try Self.source(files, sop: "\(series).\(i)")))
        }
    }

    @Test func multipartFramesEachInstanceInOrder() throws {
        let dir = try F.Directory()
        let order = try F.shuffledStudy(in: dir.path)
        try F.index(dir.path)
        let r = try DwcProcess.run(["retrieve", "-A", dir.path, "--study", "2.25.777", "--multipart"])
        #expect(r.status == 0, "\(r.stderr)")
        let bytes = [UInt8](r.stdout)
        let text = String(decoding: bytes, as: UTF8.self)
        let headerEnd = try #require(text.range(of: "\r\n\r\n"))
        let header = text[..<headerEnd.lowerBound]
        #expect(header.hasPrefix("Content-Type: multipart/related; type=\"application/dicom\"; boundary="))
        let boundary = String(header[try #require(header.range(of: "boundary=")).upperBound...])
        #expect(!boundary.isEmpty)

        // Walk the parts by their Content-Length: each is a whole file, in study order.
        var at = text.utf8.distance(from: text.startIndex, to: headerEnd.upperBound)
        func expectLiteral(_ literal: String) -> Bool {
            let b = Array(literal.utf8)
            guard at + b.count <= bytes.count, Array(bytes[at..<(at + b.count)]) == b else { return false }
            at += b.count
            return true
        }
        var parts: [(sop: String, body: [UInt8])] = []
        while expectLiteral("--\(boundary)\r\n") {
            var headers: [String: String] = [:]
            while true {
                let lineEnd = try #require(bytes[at...].firstIndex(of: 13))
                let line = String(decoding: bytes[at..<lineEnd], as: UTF8.self)
                at = lineEnd + 2
                if line.isEmpty { break }
                let colon = try #require(line.firstIndex(of: ":"))
                headers[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            #expect(headers["Content-Type"] == "application/dicom; transfer-syntax=1.2.840.10008.1.2.1")
            let length = try #require(Int(headers["Content-Length"] ?? ""))
            #expect(at + length <= bytes.count)
            let body = Array(bytes[at..<min(bytes.count, at + length)])
            at += length
            #expect(expectLiteral("\r\n"))
            let location = headers["Content-Location"] ?? ""
            parts.append((String(location.split(separator: "/").last ?? ""), body))
            #expect(location.hasPrefix("studies/2.25.777/series/2.25.777."))
        }
        #expect(expectLiteral("--\(boundary)--\r\n"), "closing delimiter")
        #expect(at == bytes.count, "nothing after the closing delimiter")
        #expect(parts.map(\.sop) == order)
        for part in parts {
            let path = "\(dir.path)/shuffled/\(part.sop.replacingOccurrences(of: ".", with: "_")).dcm"
            #expect(Data(part.body) == Self.contents(path), "\(part.sop)")
            #expect(!part.body.isEmpty)
        }
    }

    /// Every native syntax of the sample study rewritten as Explicit VR Little Endian reads back
    /// with the same elements and values; an encapsulated file is refused (exit 82, not written),
    /// the native ones are still delivered.
    @Test func transferSyntaxRewriteRoundTrips() throws {
        let files = try SampleFiles()
        let jpeg = try Self.encapsulated(sop: "2.25.100000.3.1", fragments: [[0xFF, 0xD8, 7, 0xFF, 0xD9, 0]], series: "2.25.100000.3", study: "2.25.100000")
        let jpegPath = files.directory + "/jpeg/2.25.100000.3.1.dcm"
        try FileManager.default.createDirectory(atPath: files.directory + "/jpeg", withIntermediateDirectories: true)
        try Data(jpeg).write(to: URL(fileURLWithPath: jpegPath))
        try F.index(files.directory)
        let out = try F.Directory()
        let study = "2.25.100000"
        let r = try DwcProcess.run(["retrieve", "-A", files.directory, "--study", study, "-o", out.path, "--layout", "flat",
                                    "--transfer-syntax", "1.2.840.10008.1.2.1"])
        #expect(r.status == 82, "\(r.stderr)")
        #expect(r.stderr.contains("E: \(jpegPath): 1.2.840.10008.1.2.4.50"), "\(r.stderr)")
        #expect(r.stderr.contains("is encapsulated"))
        #expect(r.stderr.split(separator: "\n").filter { $0.hasPrefix("E:") }.count == 1, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path + "/2.25.100000.3.1.dcm"))
        // Without --transfer-syntax the same file is delivered as it is.
        let plain = try DwcProcess.run(["retrieve", "-A", files.directory, jpegPath, "-o", out.path, "--layout", "flat"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(Self.contents(out.path + "/2.25.100000.3.1.dcm") == Data(jpeg))

        let loader = DicomFileLoader()
        var syntaxesSeen = Set<String>()
        for e in 1...2 {
            for i in 1...3 {
                let sop = "\(study).\(e).\(i)"
                let original = try loader.load(try Self.source(files, sop: sop))
                syntaxesSeen.insert(original.transferSyntax.uid)
                let rewritten = try loader.load(out.path + "/\(sop).dcm")
                #expect(rewritten.transferSyntax.uid == "1.2.840.10008.1.2.1")
                #expect(rewritten.fileMeta.string(.transferSyntaxUID) == "1.2.840.10008.1.2.1")
                #expect(rewritten.fileMeta.string(.mediaStorageSOPInstanceUID) == sop)
                #expect(rewritten.warnings.isEmpty, "\(sop): \(rewritten.warnings)")
                let differences = try F.differences(original.dataSet, original, rewritten.dataSet, rewritten)
                #expect(differences.isEmpty, "\(sop) (\(original.transferSyntax.name)): \(differences)")
                if original.transferSyntax.uid == "1.2.840.10008.1.2.1" {
                    #expect(Self.contents(out.path + "/\(sop).dcm") == Self.contents(try Self.source(files, sop: sop)), "already explicit LE: a byte copy")
                }
            }
        }
        #expect(syntaxesSeen == ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"])

        let unsupported = try DwcProcess.run(["retrieve", "-A", files.directory, "--study", study, "-o", out.path, "--transfer-syntax", "1.2.840.10008.1.2.4.50"])
        #expect(unsupported.status == 82)
    }

    @Test func missingUIDsExit21AndWriteNothing() throws {
        let files = try SampleFiles()
        try F.index(files.directory)
        let out = try F.Directory()
        for arguments in [["--study", "2.25.9"], ["--series", "2.25.100000.7"], ["2.25.100000.1.1", "2.25.100000.1.9"], ["\(files.directory)/none.dcm"]] {
            let r = try DwcProcess.run(["retrieve", "-A", files.directory, "-o", out.path] + arguments)
            #expect(r.status == 21, "\(arguments): \(r.stderr)")
            #expect(r.stderr.hasPrefix("E: "))
            let multipart = try DwcProcess.run(["retrieve", "-A", files.directory, "--multipart"] + arguments)
            #expect(multipart.status == 21)
            #expect(multipart.stdout.isEmpty)
        }
        #expect(Self.tree(out.path).isEmpty)
    }

    @Test func brokenFilesAreReportedAndTheRestDelivered() throws {
        let files = try SampleFiles()
        try F.index(files.directory)
        let series = "2.25.100021.1"
        let sources = try (1...3).map { try Self.source(files, sop: "\(series).\($0)") }
        try Data("junk junk junk junk junk junk junk junk".utf8).write(to: URL(fileURLWithPath: sources[0]))
        let out = try F.Directory()
        let r = try DwcProcess.run(["retrieve", "-A", files.directory, "--series", series, "-o", out.path, "--layout", "flat"])
        #expect(r.status == 22)
        #expect(r.stderr.split(separator: "\n").filter { $0.hasPrefix("E: \(sources[0]): ") }.count == 1, "\(r.stderr)")
        #expect(Self.tree(out.path) == ["\(series).2.dcm", "\(series).3.dcm"])

        try FileManager.default.removeItem(atPath: sources[1])
        try Data("also junk, also long enough to read".utf8).write(to: URL(fileURLWithPath: sources[2]))
        let none = try F.Directory()
        let all = try DwcProcess.run(["retrieve", "-A", files.directory, "--series", series, "-o", none.path])
        #expect(all.status == 23)
        #expect(all.stderr.split(separator: "\n").filter { $0.hasPrefix("E: ") }.count == 3)
        #expect(Self.tree(none.path).isEmpty)
    }

    @Test func uidsInTheLayoutCannotEscapeTheOutputDirectory() throws {
        let dir = try F.Directory()
        var ds = SampleArchive().instances()[0].dataSet
        ds.set(F.uid(.sopInstanceUID, "../../evil"))
        let path = dir.path + "/in/evil.dcm"
        try F.write(ds, syntax: .explicitVRLittleEndian, to: path)
        let out = dir.path + "/out/a"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let r = try DwcProcess.run(["retrieve", path, "-o", out])
        #expect(r.status == 23)
        #expect(r.stderr.contains("not a valid UID"))
        #expect(Self.tree(dir.path + "/out").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/evil"))

        let good = try Self.encapsulated(sop: "2.25.5", fragments: [[1, 2]])
        try Data(good).write(to: URL(fileURLWithPath: dir.path + "/in/good.dcm"))
        for layout in ["../{sop}.dcm", "/tmp/{sop}.dcm", "{study}/{series}", "{patient}/{sop}.dcm", "a//{sop}", "./{sop}"] {
            let bad = try DwcProcess.run(["retrieve", dir.path + "/in/good.dcm", "-o", out, "--layout", layout])
            #expect(bad.status == 1, "\(layout): \(bad.status)")
        }
        #expect(Self.tree(dir.path + "/out").isEmpty)
        let ok = try DwcProcess.run(["retrieve", dir.path + "/in/good.dcm", "-o", out, "--layout", "{sop}"])
        #expect(ok.status == 0)
        #expect(Self.tree(out) == ["2.25.5"])
    }

    @Test func oneInstanceToStandardOutput() throws {
        let files = try SampleFiles()
        let one = try DwcProcess.run(["retrieve", files.paths[3], "-o", "-"])
        #expect(one.status == 0)
        #expect(one.stdout == Self.contents(files.paths[3]))
        let piped = try DwcProcess.run(["retrieve", "-", "-o", "-"], stdin: Self.contents(files.paths[5]))
        #expect(piped.stdout == Self.contents(files.paths[5]))
        #expect(try DwcProcess.run(["retrieve", files.paths[3], files.paths[4], "-o", "-"]).status == 1)
        #expect(try DwcProcess.run(["retrieve", files.paths[3]]).status == 1, "no output named")
        #expect(try DwcProcess.run(["retrieve", files.paths[3], "-o", files.directory + "/missing-dir"]).status == 45)
    }
}
