import DicomCore
import DicomParser
import DwcKit
import Foundation
import Testing

@Suite struct MetadataCLITests {
    typealias F = WADOFixtures

    static let syntaxes: [TransferSyntax] = [
        .explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian, .deflatedExplicitVRLittleEndian,
    ]

    /// Metadata of a file is dump's JSON of it, except that every Pixel Data is a BulkDataURI;
    /// every BulkDataURI resolves through retrieve-bulkdata to the bytes the parser holds.
    @Test(arguments: syntaxes)
    func metadataOfAFileIsDumpsJSONAndItsURIsResolve(syntax: TransferSyntax) throws {
        let dir = try F.Directory()
        let path = dir.path + "/rich.dcm"
        try F.write(F.richDataSet(), syntax: syntax, to: path)

        let metadata = try DwcProcess.run(["metadata", "--compact", path])
        #expect(metadata.status == 0, "\(metadata.stderr)")
        #expect(metadata.stderr.isEmpty)
        let array = try #require(try F.json(metadata.stdout) as? [[String: Any]])
        #expect(array.count == 1)
        let object = try #require(array.first)
        let dump = try DwcProcess.run(["dump", "--format", "json", "--compact", path])
        #expect(dump.status == 0)
        let dumped = try #require(try F.json(dump.stdout) as? [String: Any])

        // Equal but for the icon's small Pixel Data: inline in dump, by reference in metadata.
        let iconPath = [0x0088_0200, 0, 0x7FE0_0010]
        let iconKey = "7FE00010"
        var withoutIcon = object, dumpedWithoutIcon = dumped
        for (i, var o) in [object, dumped].enumerated() {
            var seq = try #require(o["00880200"] as? [String: Any])
            var items = try #require(seq["Value"] as? [[String: Any]])
            items[0][iconKey] = nil
            seq["Value"] = items
            o["00880200"] = seq
            if i == 0 { withoutIcon = o } else { dumpedWithoutIcon = o }
        }
        #expect(NSDictionary(dictionary: withoutIcon).isEqual(to: dumpedWithoutIcon), "metadata and dump differ")
        let dumpIcon = ((dumped["00880200"] as? [String: Any])?["Value"] as? [[String: Any]])?.first?[iconKey] as? [String: Any]
        #expect(dumpIcon?["InlineBinary"] != nil)

        // Which values are references: pixel data always, others above 1024 bytes.
        let uris = F.bulkDataURIs(in: object)
        let referenced = Set(uris.map { $0.path })
        #expect(referenced == Set([[0x0009_1001], [0x0066_0016], [0x0008_1140, 0, 0x0028_1201], iconPath, [0x7FE0_0010]]))
        for (path, uri) in uris {
            #expect(uri.hasPrefix("file:///"))
            #expect(uri.hasSuffix("&inflated=1") == syntax.isDeflated, "\(uri)")
            if path.last != 0x7FE0_0010 { #expect(F.length(of: uri) > 1024) }
        }

        // All URIs in one call; the output is the values one after the other.
        let resolved = try DwcProcess.run(["retrieve-bulkdata"] + uris.map(\.uri))
        #expect(resolved.status == 0, "\(resolved.stderr)")
        let file = try DicomFileLoader().load(path)
        var offset = 0
        let bytes = [UInt8](resolved.stdout)
        for (path, uri) in uris {
            let length = F.length(of: uri)
            let element = try #require(F.element(at: path, in: file.dataSet), "\(path)")
            let expected = try #require(try file.valueBytes(element))
            #expect(offset + length <= bytes.count)
            guard offset + length <= bytes.count else { break }
            #expect(Array(bytes[offset..<(offset + length)]) == expected, "value at \(path) of \(uri)")
            offset += length
        }
        #expect(offset == bytes.count)
    }

    @Test func encapsulatedPixelDataResolvesToTheItemsWithoutTheDelimiter() throws {
        let dir = try F.Directory()
        let path = dir.path + "/jpeg.dcm"
        let fragments: [[UInt8]] = [[0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9, 0], [0xFF, 0xD8, 9, 9, 0xFF, 0xD9]]
        try Data(RetrieveCLITests.encapsulated(sop: "2.25.31337", fragments: fragments)).write(to: URL(fileURLWithPath: path))
        let r = try DwcProcess.run(["metadata", "--compact", path])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require((try F.json(r.stdout) as? [[String: Any]])?.first)
        let uri = try #require((object["7FE00010"] as? [String: Any])?["BulkDataURI"] as? String)
        let value = try DwcProcess.run(["retrieve-bulkdata", uri])
        #expect(value.status == 0)
        // Offset table item (empty), then each fragment as an item; no FFFE,E0DD at the end.
        var expected: [UInt8] = [0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]
        for fragment in fragments {
            expected += [0xFE, 0xFF, 0x00, 0xE0] + withUnsafeBytes(of: UInt32(fragment.count).littleEndian, Array.init) + fragment
        }
        #expect([UInt8](value.stdout) == expected)
    }

    @Test func seriesAndStudyComeInSeriesThenInstanceNumberOrder() throws {
        let dir = try F.Directory()
        let expected = try F.shuffledStudy(in: dir.path)
        try F.index(dir.path)
        let study = try DwcProcess.run(["metadata", "-A", dir.path, "--study", "2.25.777"])
        #expect(study.status == 0, "\(study.stderr)")
        let objects = try #require(try F.json(study.stdout) as? [[String: Any]])
        #expect(F.sopUIDs(objects) == expected)

        let series = try DwcProcess.run(["metadata", "-A", dir.path, "--series", "2.25.777.9", "--format", "ndjson"])
        #expect(series.status == 0)
        let lines = series.text.split(separator: "\n")
        let parsed = try lines.map { try #require(try F.json(Data($0.utf8)) as? [String: Any]) }
        #expect(F.sopUIDs(parsed) == Array(expected[2...]))

        // Explicit inputs keep their order; a file named twice (by path and by UID) comes once.
        let mixed = try DwcProcess.run(["metadata", "-A", dir.path, "--compact", "2.25.777.9.1", "--instance", "2.25.777.4.2",
                                        "\(dir.path)/shuffled/2_25_777_9_1.dcm"])
        #expect(mixed.status == 0, "\(mixed.stderr)")
        #expect(F.sopUIDs(try #require(try F.json(mixed.stdout) as? [[String: Any]])) == ["2.25.777.9.1", "2.25.777.4.2"])
    }

    /// `dwc bench metadata` (for bench_metadata.py) does the work `dwc metadata` does: the same
    /// instances and the same bytes of JSON on each call; times are not checked.
    @Test func benchMetadataMakesTheSameCallsAsTheCommand() throws {
        let dir = try F.Directory()
        _ = try F.shuffledStudy(in: dir.path)
        try F.index(dir.path)
        for select in [["--study", "2.25.777"], ["--series", "2.25.777.9"]] {
            let command = try DwcProcess.run(["metadata", "-A", dir.path, "--compact"] + select)
            #expect(command.status == 0, "\(command.stderr)")
            let objects = try #require(try F.json(command.stdout) as? [[String: Any]])
            let bench = try DwcProcess.run(["bench", "metadata", "-A", dir.path, "--compact", "--repeat", "3"] + select)
            #expect(bench.status == 0, "\(bench.stderr)")
            let report = try #require(try F.json(bench.stdout) as? [String: Any])
            #expect(report["instances"] as? Int == objects.count)
            #expect(report["output_bytes"] as? Int == command.stdout.count)
            for key in ["median_call_ms", "first_call_ms", "open_ms"] { #expect(report[key] is Double, "\(key)") }
        }
        let nothing = try DwcProcess.run(["bench", "metadata", "-A", dir.path, "--series", "2.25.404"])
        #expect(nothing.status == 21, "\(nothing.stderr)")
    }

    @Test func missingUIDsAndFilesExit21BeforeAnyOutput() throws {
        let dir = try F.Directory()
        _ = try F.shuffledStudy(in: dir.path)
        let noIndex = try DwcProcess.run(["metadata", "-A", dir.path, "--study", "2.25.777"])
        #expect(noIndex.status == 21)
        #expect(noIndex.stderr.contains("run dwc index"))
        try F.index(dir.path)
        for arguments in [["--study", "2.25.1"], ["--series", "2.25.777.5"], ["--instance", "2.25.777.9.2"], ["2.25.6"],
                          ["\(dir.path)/nothing.dcm"], ["\(dir.path)/shuffled/2_25_777_9_1.dcm", "2.25.8"], []] {
            let r = try DwcProcess.run(["metadata", "-A", dir.path] + arguments)
            #expect(r.status == 21, "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(arguments)")
            #expect(r.stderr.hasPrefix("E: "), "\(arguments)")
        }
    }

    @Test func brokenFilesAreReportedAndTheRestDelivered() throws {
        let files = try SampleFiles()
        try F.index(files.directory)
        let series = "2.25.100010.2"
        let paths = files.paths.filter { $0.contains("/\(series).") }.sorted()
        #expect(paths.count == 3)
        // The second file is now junk; the index still lists it.
        try Data("not DICOM at all, but long enough to be looked at".utf8).write(to: URL(fileURLWithPath: paths[1]))
        let some = try DwcProcess.run(["metadata", "-A", files.directory, "--series", series, "--compact"])
        #expect(some.status == 22)
        let objects = try #require(try F.json(some.stdout) as? [[String: Any]])
        #expect(F.sopUIDs(objects) == ["\(series).1", "\(series).3"])
        let errors = some.stderr.split(separator: "\n")
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("E: \(paths[1]): ") == true, "\(some.stderr)")

        // All broken (one junk, one truncated, one gone): 23, and still a JSON array.
        let whole = try Data(contentsOf: URL(fileURLWithPath: paths[0]))
        try whole.prefix(200).write(to: URL(fileURLWithPath: paths[0]))
        try FileManager.default.removeItem(atPath: paths[2])
        let none = try DwcProcess.run(["metadata", "-A", files.directory, "--series", series])
        #expect(none.status == 23)
        #expect((try F.json(none.stdout) as? [Any])?.isEmpty == true)
        #expect(none.stderr.split(separator: "\n").filter { $0.hasPrefix("E: ") }.count == 3)
    }

    @Test func formatsInlineAndFileMetaOptions() throws {
        let dir = try F.Directory()
        let path = dir.path + "/rich.dcm"
        try F.write(F.richDataSet(), syntax: .explicitVRLittleEndian, to: path)

        let inline = try DwcProcess.run(["metadata", "--inline", "--compact", path])
        #expect(inline.status == 0)
        let inlined = try #require((try F.json(inline.stdout) as? [[String: Any]])?.first)
        #expect(Set(F.bulkDataURIs(in: inlined).map(\.path)) == [[0x0088_0200, 0, 0x7FE0_0010], [0x7FE0_0010]])
        let big = try #require((inlined["00091001"] as? [String: Any])?["InlineBinary"] as? String)
        #expect(Data(base64Encoded: big) == Data(F.pattern(3000, seed: 1)))

        let zero = try DwcProcess.run(["metadata", "--inline-threshold", "0", "--compact", path])
        let all = try #require((try F.json(zero.stdout) as? [[String: Any]])?.first)
        #expect(F.bulkDataURIs(in: all).count == 7, "every binary value by reference")

        let meta = try DwcProcess.run(["metadata", "--include-meta", "--compact", path])
        let withMeta = try #require((try F.json(meta.stdout) as? [[String: Any]])?.first)
        #expect(((withMeta["00020010"] as? [String: Any])?["Value"] as? [String]) == ["1.2.840.10008.1.2.1"])
        #expect(Array(withMeta.keys).filter { $0.hasPrefix("0002") }.count >= 4)
        #expect(inlined["00020010"] == nil, "no file meta unless asked")

        let pretty = try DwcProcess.run(["metadata", path, dir.path + "/./rich.dcm"])
        #expect(pretty.text.hasPrefix("[\n  {\n    \"00080005\": {\n"))
        #expect((try F.json(pretty.stdout) as? [Any])?.count == 1, "the same file twice is one instance")
        let ndjson = try DwcProcess.run(["metadata", "--format", "ndjson", path])
        #expect(ndjson.text.split(separator: "\n").count == 1)
        #expect(ndjson.text.hasPrefix("{\"00080005\":"))

        // stdin: nothing to refer to; values inline, Pixel Data without a value.
        let piped = try DwcProcess.run(["metadata", "--compact", "-"], stdin: try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(piped.status == 0)
        let fromStdin = try #require((try F.json(piped.stdout) as? [[String: Any]])?.first)
        #expect(F.bulkDataURIs(in: fromStdin).isEmpty)
        #expect((fromStdin["7FE00010"] as? [String: Any])?.keys.sorted() == ["vr"])
        #expect(piped.stderr.contains("W: <stdin>: no file to refer to"))
    }

    /// Memory stays flat over many instances: big values are never read (pixel data: 64 MiB
    /// holes per file), and each object is written before the next file is read (96 KiB inlined
    /// per file: 12.8 MB of JSON for 100 files).
    @Test func memoryStaysFlatOverManyInstances() throws {
        let dir = try F.Directory()
        var base = F.richDataSet()
        base.set(DataElement(tag: DicomCore.Tag(0x0009, 0x1001), vr: .OB, bytes: F.pattern(96 * 1024, seed: 9)))
        base.remove(.pixelData)
        var paths: [String] = []
        for i in 1...100 {
            var ds = base
            ds.set(F.uid(.sopInstanceUID, "2.25.5150.\(i)"))
            let path = "\(dir.path)/m\(i).dcm"
            var bytes = try F.writer.part10(dataSet: ds, syntax: .explicitVRLittleEndian)
            let pixelLength: UInt32 = 64 << 20
            bytes += [0xE0, 0x7F, 0x10, 0x00] + Array("OW".utf8) + [0, 0] + withUnsafeBytes(of: pixelLength.littleEndian, Array.init)
            try F.sparseFile(path, size: UInt64(bytes.count) + UInt64(pixelLength), writing: bytes)
            paths.append(path)
        }
        let few = try F.peakMemory(["metadata", "--inline"] + paths.prefix(3))
        let many = try F.peakMemory(["metadata", "--inline"] + paths)
        #expect(few.status == 0 && many.status == 0)
        #expect(few.kilobytes > 0)
        #expect(many.kilobytes - few.kilobytes < 8 * 1024, "peak RSS \(few.kilobytes) KiB for 3 files, \(many.kilobytes) KiB for 100")
        #expect(many.kilobytes < 48 * 1024, "no pixel data read: peak RSS \(many.kilobytes) KiB")
    }
}
