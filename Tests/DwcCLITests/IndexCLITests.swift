import DicomCore
import DicomIndex
import DicomParser
import DwcKit
import Foundation
import Testing

/// `dwc index` run as a process over synthesized archives.
@Suite struct IndexCLITests {
    func count(_ sql: String, index: String) throws -> Int64 {
        let db = try SQLiteDatabase(path: index)
        let statement = try db.prepare(sql)
        guard try statement.step() else { return -1 }
        return statement.int(0)
    }

    func summary(_ result: DwcProcess.Result) throws -> [String: Double] {
        let line = try #require(result.text.split(separator: "\n").last)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    @Test func indexesIncrementallyAndPrunes() throws {
        let files = try SampleFiles()
        let index = files.directory + "/.dwc/index.sqlite"
        let first = try DwcProcess.run(["index", "-A", files.directory, "--summary-json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try summary(first)["added"] == 36)
        #expect(first.stderr.contains("indexed: 36 added"))
        #expect(try count("SELECT count(*) FROM studies", index: index) == 6)
        #expect(try count("SELECT count(*) FROM series", index: index) == 12)
        #expect(try count("SELECT count(*) FROM instances", index: index) == 36)
        #expect(try count("SELECT num_instances FROM studies WHERE study_uid = '2.25.100000'", index: index) == 6)
        #expect(try count("SELECT count(*) FROM instances WHERE path LIKE '/%'", index: index) == 0, "paths are relative to the archive")

        let again = try DwcProcess.run(["index", "-A", files.directory, "--summary-json"])
        #expect(try summary(again)["unchanged"] == 36)
        #expect(try summary(again)["added"] == 0)

        // Change one file (another instance now), delete one, move one.
        let writer = DicomWriter()
        var changed = SampleArchive().instances()[0].dataSet
        changed.set(DataElement(tag: .sopInstanceUID, vr: .UI, bytes: DicomWriter.uidBytes("2.25.999")))
        try Data(try writer.part10(dataSet: changed, syntax: .explicitVRLittleEndian)).write(to: URL(fileURLWithPath: files.paths[0]))
        try FileManager.default.removeItem(atPath: files.paths[1])
        let moved = files.directory + "/moved.dcm"
        try FileManager.default.moveItem(atPath: files.paths[2], toPath: moved)
        let third = try DwcProcess.run(["index", "-A", files.directory, "--summary-json"])
        let s = try summary(third)
        #expect(s["added"] == 0)
        #expect(s["updated"] == 2, "the changed file (now another instance) and the moved file")
        #expect(s["removed"] == 1, "the deleted file")
        #expect(try count("SELECT count(*) FROM instances", index: index) == 35)
        #expect(try count("SELECT count(*) FROM instances WHERE sop_uid = '2.25.999'", index: index) == 1)
        #expect(try count("SELECT count(*) FROM instances WHERE path = 'moved.dcm'", index: index) == 1)
        // --no-prune keeps entries of deleted files.
        try FileManager.default.removeItem(atPath: moved)
        _ = try DwcProcess.run(["index", "-A", files.directory, "--no-prune"])
        #expect(try count("SELECT count(*) FROM instances", index: index) == 35)
        _ = try DwcProcess.run(["index", "-A", files.directory])
        #expect(try count("SELECT count(*) FROM instances", index: index) == 34)
        // A whole study gone: its series and study rows go too, and nothing is left pointing at them.
        let db = try SQLiteDatabase(path: index)
        let paths = try db.prepare("""
            SELECT i.path FROM instances i JOIN series s USING (series_pk) JOIN studies t USING (study_pk)
            WHERE t.study_uid = '2.25.100000'
            """)
        var gone = 0
        while try paths.step() {
            try FileManager.default.removeItem(atPath: files.directory + "/" + (paths.text(0) ?? ""))
            gone += 1
        }
        #expect(gone > 0)
        _ = try DwcProcess.run(["index", "-A", files.directory])
        #expect(try count("SELECT count(*) FROM studies", index: index) == 5)
        #expect(try count("SELECT count(*) FROM studies WHERE study_uid = '2.25.100000'", index: index) == 0)
        #expect(try count("SELECT count(*) FROM series WHERE num_instances = 0", index: index) == 0)
        #expect(try count("SELECT count(*) FROM pragma_foreign_key_check", index: index) == 0)
    }

    @Test func reportsBadFilesAndDuplicatesAndCompletes() throws {
        let files = try SampleFiles()
        try Data("just some text, certainly not a DICOM file".utf8).write(to: URL(fileURLWithPath: files.directory + "/notes.txt"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: files.paths[0]))
        try bytes.prefix(200).write(to: URL(fileURLWithPath: files.directory + "/truncated.dcm"))
        try bytes.write(to: URL(fileURLWithPath: files.directory + "/copy.dcm"))
        var noUIDs = SampleArchive().instances()[3].dataSet
        noUIDs.remove(.seriesInstanceUID)
        try Data(try DicomWriter().part10(dataSet: noUIDs, syntax: .explicitVRLittleEndian)).write(to: URL(fileURLWithPath: files.directory + "/nouid.dcm"))
        try Data().write(to: URL(fileURLWithPath: files.directory + "/.hidden.dcm"))
        let r = try DwcProcess.run(["index", "-A", files.directory, "--summary-json"])
        #expect(r.status == 22)
        let s = try summary(r)
        #expect(s["added"] == 36)
        #expect(s["skipped_not_dicom"] == 1)
        #expect(s["failed"] == 2)
        #expect(s["duplicates"] == 1)
        #expect(r.stderr.contains("E: \(files.directory)/truncated.dcm: "))
        #expect(r.stderr.contains("E: \(files.directory)/nouid.dcm: ") && r.stderr.contains("missing SeriesInstanceUID"))
        #expect(r.stderr.contains("duplicate of \(files.directory)/copy.dcm"))
        #expect(try count("SELECT count(*) FROM instances", index: files.directory + "/.dwc/index.sqlite") == 36)
        // Unchanged bad files are remembered, not read again, and still counted.
        let again = try DwcProcess.run(["index", "-A", files.directory, "--summary-json"])
        #expect(try summary(again)["failed"] == 2)
        #expect(try summary(again)["unchanged"] == 40)
    }

    /// A `dwc store` that died (its journal unlocked) left a temporary file and a file renamed
    /// into place but not recorded: dwc index removes the one and records the other. A live
    /// store's temporary file (journal locked) is left alone.
    @Test func cleansUpAfterADeadStore() throws {
        let files = try SampleFiles()
        let journals = files.directory + "/.dwc/store"
        try FileManager.default.createDirectory(atPath: journals, withIntermediateDirectories: true)
        let folder = files.directory + "/incoming"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let placed = folder + "/placed.dcm"
        try FileManager.default.copyItem(atPath: files.paths[0], toPath: placed)
        try FileManager.default.moveItem(atPath: files.paths[0], toPath: folder + "/.dwc-tmp-dead-1")
        try Data("T\tincoming\nP\tincoming/placed.dcm\n".utf8).write(to: URL(fileURLWithPath: journals + "/dead.journal"))
        // A live store: its journal is locked by this process.
        try Data("T\tincoming\n".utf8).write(to: URL(fileURLWithPath: journals + "/live.journal"))
        try Data("partial".utf8).write(to: URL(fileURLWithPath: folder + "/.dwc-tmp-live-1"))
        let live = open(journals + "/live.journal", O_RDONLY)
        defer { close(live) }
        #expect(flock(live, LOCK_EX | LOCK_NB) == 0)

        let r = try DwcProcess.run(["index", "-A", files.directory])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("recovered after an interrupted store: removed 1 temporary files, indexed 1 stored files"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/.dwc-tmp-dead-1"))
        #expect(!FileManager.default.fileExists(atPath: journals + "/dead.journal"))
        #expect(FileManager.default.fileExists(atPath: folder + "/.dwc-tmp-live-1"))
        #expect(FileManager.default.fileExists(atPath: journals + "/live.journal"))
        let index = files.directory + "/.dwc/index.sqlite"
        #expect(try count("SELECT count(*) FROM instances WHERE path = 'incoming/placed.dcm'", index: index) == 1)
        #expect(try count("SELECT count(*) FROM instances", index: index) == 36)
    }

    @Test func concurrentRunsNeitherCorruptNorDuplicate() throws {
        let files = try SampleFiles()
        let processes = try (0..<3).map { _ -> (Process, Pipe) in
            let p = Process()
            let err = Pipe()
            p.executableURL = URL(fileURLWithPath: DwcProcess.binary)
            p.arguments = ["index", "-q", "-A", files.directory, "-j1"]  // -j takes a joined value, as make's does
            p.standardError = err
            try p.run()
            return (p, err)
        }
        for (p, err) in processes {
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(message)")
        }
        let index = files.directory + "/.dwc/index.sqlite"
        #expect(try count("SELECT count(*) FROM instances", index: index) == 36)
        #expect(try count("SELECT count(*) FROM files", index: index) == 0, "every file is an instance: none is in files")
        #expect(try count("SELECT count(*) FROM studies", index: index) == 6)
        let db = try SQLiteDatabase(path: index)
        let check = try db.prepare("PRAGMA integrity_check")
        #expect(try check.step())
        #expect(check.text(0) == "ok")
        // No series without its study, no instance without its series (SQLite does not enforce
        // the references while writing: ArchiveIndex keeps them).
        let orphans = try db.prepare("PRAGMA foreign_key_check")
        #expect(try !orphans.step())
    }

    /// A new index taken in one go up to `buildLimit` files, published, then grown batch by
    /// batch, holds exactly what an index grown batch by batch from the start holds.
    @Test func aNewIndexPublishedPartWayEqualsOneGrownInPlace() throws {
        let files = try SampleFiles()
        let indexes = NSTemporaryDirectory() + "dwc-indexes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: indexes, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: indexes) }
        func build(limit: Int, index: String) throws -> IndexOperation.Summary {
            var operation = IndexOperation(location: ArchiveLocation(archive: files.directory, index: index))
            operation.buildLimit = limit
            operation.batchSize = 8
            operation.jobs = 1
            return try operation.run(reporter: .init(problem: { Issue.record("\($0)") }, warning: { _ in }))
        }
        let inPlace = try build(limit: 0, index: indexes + "/in-place.sqlite")
        let partWay = try build(limit: 10, index: indexes + "/part-way.sqlite")
        #expect(inPlace.added == 36 && partWay.added == 36)
        func dump(_ index: String) throws -> [String] {
            let db = try SQLiteDatabase(path: index, readOnly: true)
            var rows: [String] = []
            for sql in ["SELECT study_uid, num_series, num_instances, modalities, sop_classes FROM studies ORDER BY study_uid",
                        "SELECT series_uid, series.num_instances, study_uid FROM series JOIN studies USING (study_pk) ORDER BY series_uid",
                        "SELECT sop_uid, path, series_uid FROM instances JOIN series USING (series_pk) ORDER BY sop_uid",
                        "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"] {
                let statement = try db.prepare(sql)
                while try statement.step() {
                    rows.append((0..<statement.columnCount).map { statement.text($0) ?? "NULL" }.joined(separator: "|"))
                }
            }
            return rows
        }
        let expected = try dump(indexes + "/in-place.sqlite")
        #expect(expected.count > 36 + 6)
        #expect(try dump(indexes + "/part-way.sqlite") == expected)
    }

    @Test func rejectsAnIndexThatIsNotSQLiteAndAStaleOne() throws {
        let files = try SampleFiles()
        let bogus = files.directory + "/bogus.sqlite"
        try Data(String(repeating: "not a database ", count: 100).utf8).write(to: URL(fileURLWithPath: bogus))
        let r = try DwcProcess.run(["index", "-A", files.directory, "--index", bogus])
        #expect(r.status == 80)
        #expect(r.stderr.hasPrefix("E: \(bogus): "))
        let index = files.directory + "/.dwc/index.sqlite"
        _ = try DwcProcess.run(["index", "-q", "-A", files.directory])
        try SQLiteDatabase(path: index).execute("UPDATE dwc_meta SET value = 'other' WHERE key = 'attribute_signature'")
        let stale = try DwcProcess.run(["index", "-A", files.directory])
        #expect(stale.status == 81)
        #expect(stale.stderr.contains("dwc index --rebuild"))
        let rebuilt = try DwcProcess.run(["index", "-A", files.directory, "--rebuild", "--summary-json"])
        #expect(rebuilt.status == 0)
        #expect(try summary(rebuilt)["added"] == 36)
    }

    @Test func filtersAndFileLists() throws {
        let files = try SampleFiles()
        let included = try DwcProcess.run(["index", "-A", files.directory, "--include", "*/patient0/*", "--summary-json"])
        #expect(try summary(included)["added"] == 12)
        let excluded = try DwcProcess.run(["index", "-A", files.directory, "--rebuild", "--exclude", "*.1.dcm", "--summary-json"])
        #expect(try summary(excluded)["added"] == 24)
        let list = files.paths.prefix(5).joined(separator: "\0")
        let listed = try DwcProcess.run(["index", "-A", files.directory, "--rebuild", "--files-from", "-", "-0", "--summary-json"],
                                        stdin: Data(list.utf8))
        #expect(try summary(listed)["added"] == 5)
    }

    @Test func keepsFrameSpansFromTheBasicOffsetTable() throws {
        let files = try SampleFiles()
        // Three JPEG-like frames of different sizes with a Basic Offset Table.
        var ds = SampleArchive().instances()[0].dataSet
        ds.set(DataElement(tag: .sopInstanceUID, vr: .UI, bytes: DicomWriter.uidBytes("2.25.4242")))
        ds.set(DataElement(tag: .numberOfFrames, vr: .IS, bytes: Array("3 ".utf8)))
        ds.remove(.pixelData)
        let frames: [[UInt8]] = [[0xFF, 0xD8, 1, 0xFF, 0xD9, 0], [0xFF, 0xD8, 1, 2, 3, 4, 0xFF, 0xD9], [0xFF, 0xD8, 0xFF, 0xD9]]
        var bot: [UInt8] = []
        var position = 0
        for frame in frames { bot += withUnsafeBytes(of: UInt32(position).littleEndian, Array.init); position += 8 + frame.count }
        var bytes = try DicomWriter().part10(dataSet: ds, syntax: TransferSyntax(uid: "1.2.840.10008.1.2.4.50"))
        bytes += [0xE0, 0x7F, 0x10, 0x00] + Array("OB".utf8) + [0, 0, 0xFF, 0xFF, 0xFF, 0xFF]
        let pixelValueStart = bytes.count
        bytes += [0xFE, 0xFF, 0x00, 0xE0] + withUnsafeBytes(of: UInt32(bot.count).littleEndian, Array.init) + bot
        for frame in frames { bytes += [0xFE, 0xFF, 0x00, 0xE0] + withUnsafeBytes(of: UInt32(frame.count).littleEndian, Array.init) + frame }
        bytes += [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]
        try Data(bytes).write(to: URL(fileURLWithPath: files.directory + "/multiframe.dcm"))
        _ = try DwcProcess.run(["index", "-q", "-A", files.directory])
        let db = try SQLiteDatabase(path: files.directory + "/.dwc/index.sqlite")
        let statement = try db.prepare("SELECT frame_table, pixel_offset, pixel_encapsulated FROM instances WHERE sop_uid = '2.25.4242'")
        #expect(try statement.step())
        let spans = FrameSpan.unpack(try #require(statement.blob(0)))
        #expect(statement.int(1) == Int64(pixelValueStart))
        #expect(statement.int(2) == 1)
        let firstFragment = UInt64(pixelValueStart + 8 + bot.count)
        #expect(spans == [
            FrameSpan(offset: firstFragment, length: 14),
            FrameSpan(offset: firstFragment + 14, length: 16),
            FrameSpan(offset: firstFragment + 30, length: UInt64(bytes.count) - firstFragment - 30),
        ])
    }
}
