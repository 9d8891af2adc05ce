import DicomCore
import DicomIndex
import DicomParser
import DwcKit
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `dwc store`: layout, report, duplicates, modes, inputs, recovery.
@Suite struct StoreCLITests {
    func sample(_ number: Int = 0) -> DataSet { SampleArchive().instances()[number].dataSet }

    @Test func storesIntoTheLayoutAndReportsSTOWStyle() throws {
        let scratch = try StoreScratch("basic")
        let paths = try scratch.writeSamples()
        let run = try scratch.store([scratch.inputs])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.parsed)
        #expect(run.referenced.count == 36)
        #expect(run.failed.isEmpty)
        #expect(run.stderr.contains("stored: 36 stored, 0 already stored"))
        let object = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
        #expect(Set(object.keys) == ["00081190", "00081199"], "Retrieve URL (empty) and Referenced SOP Sequence only")
        let rows = try scratch.indexRows()
        #expect(rows.count == 36)
        for path in paths {
            let sop = try sopInstanceUID(of: path)
            let item = try #require(run.referenced.first { $0.sop == sop })
            #expect(item.source == path)
            #expect(item.sopClass?.hasPrefix("1.2.840.10008.5.1.4.1.1.") == true)
            let ds = try DicomFileLoader(stopBeforePixels: true).load(path).dataSet
            let expected = "studies/\(ds.string(.studyInstanceUID)!)/series/\(ds.string(.seriesInstanceUID)!)/instances/\(sop).dcm"
            #expect(rows[sop] == expected)
            #expect(item.retrieveURL == "file://" + scratch.archive + "/" + expected)
            #expect(scratch.bytes(expected) == FileManager.default.contents(atPath: path), "stored byte for byte")
        }
        // A second run finds everything there; dwc index agrees with what store recorded.
        let again = try scratch.store([scratch.inputs])
        #expect(again.status == 0)
        #expect(again.referenced.count == 36)
        #expect(again.stderr.contains("0 stored, 36 already stored"))
        let index = try DwcProcess.run(["index", "-A", scratch.archive])
        #expect(index.stderr.contains("0 added, 0 updated, 36 unchanged"), "\(index.stderr)")
    }

    @Test func duplicatesAreRecognisedRejectedSkippedOrReplaced() throws {
        let scratch = try StoreScratch("duplicates")
        let original = try scratch.write("original.dcm", dataSet: sample())
        var changed = sample()
        changed.set(DataElement(tag: DicomCore.Tag(0x0010, 0x0010), vr: .PN, bytes: DicomWriter.textBytes("Changed^Name")))
        let conflicting = try scratch.write("conflicting.dcm", dataSet: changed)
        let copy = try scratch.write("copy.dcm", bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: original))))
        #expect(try scratch.store([original]).status == 0)
        let storedPath = try #require(try scratch.indexRows()["2.25.100000.1.1"])
        let originalBytes = scratch.bytes(storedPath)

        let same = try scratch.store([copy])
        #expect(same.status == 0, "identical bytes: already stored")
        #expect(same.referenced.first?.retrieveURL == "file://" + scratch.archive + "/" + storedPath)
        #expect(same.stderr.contains("1 already stored"))

        let rejected = try scratch.store([conflicting, copy])
        #expect(rejected.status == 22, "one of two failed")
        #expect(rejected.failure(for: conflicting)?.failure == 0x0111)
        #expect(rejected.failure(for: conflicting)?.sop == "2.25.100000.1.1")
        #expect(scratch.bytes(storedPath) == originalBytes)

        let skipped = try scratch.store(["--on-duplicate", "skip", conflicting])
        #expect(skipped.status == 0)
        #expect(skipped.failed.isEmpty)
        #expect(skipped.stderr.contains("1 skipped-duplicate"))
        #expect(scratch.bytes(storedPath) == originalBytes)

        let replaced = try scratch.store(["--on-duplicate", "replace", conflicting])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(replaced.stderr.contains("1 replaced"))
        #expect(scratch.bytes(storedPath) == FileManager.default.contents(atPath: conflicting))
        #expect(try scratch.indexRows() == ["2.25.100000.1.1": storedPath])
        #expect(scratch.archiveFiles().files == [storedPath])

        // Replacing with other Study/Series UIDs moves the instance: the old file goes after the new
        // one is indexed.
        var moved = sample()
        moved.set(DataElement(tag: .studyInstanceUID, vr: .UI, bytes: DicomWriter.uidBytes("2.25.4242")))
        let elsewhere = try scratch.write("elsewhere.dcm", dataSet: moved)
        let replacedElsewhere = try scratch.store(["--on-duplicate", "replace", elsewhere])
        #expect(replacedElsewhere.status == 0, "\(replacedElsewhere.stderr)")
        let newPath = "studies/2.25.4242/series/2.25.100000.1/instances/2.25.100000.1.1.dcm"
        #expect(try scratch.indexRows() == ["2.25.100000.1.1": newPath])
        #expect(scratch.archiveFiles().files == [newPath])
        #expect(scratch.bytes(newPath) == FileManager.default.contents(atPath: elsewhere))
    }

    @Test func moveAndHardlinkModes() throws {
        let scratch = try StoreScratch("modes")
        let paths = try scratch.writeSamples()
        let sources = try paths.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }

        let linked = try scratch.store(["--mode", "hardlink", paths[0]])
        #expect(linked.status == 0, "\(linked.stderr)")
        let linkedPath = try #require(linked.referenced.first?.storedPath)
        var a = stat(), b = stat()
        #expect(stat(paths[0], &a) == 0 && stat(linkedPath, &b) == 0)
        #expect(a.st_ino == b.st_ino, "the stored file is the input's inode")

        let moved = try scratch.store(["--mode", "move", scratch.inputs])
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(moved.stderr.contains("35 stored, 1 already stored"))
        for (path, bytes) in zip(paths, sources) {
            #expect(!FileManager.default.fileExists(atPath: path), "\(path) moved")
            let file = try DicomFileLoader(stopBeforePixels: true).load(from: MemoryByteSource(bytes: [UInt8](bytes)))
            let sop = try #require(file.dataSet.string(.sopInstanceUID))
            let stored = try #require(try scratch.indexRows()[sop])
            #expect(scratch.bytes(stored) == bytes)
        }
        // Moving the stored files onto themselves removes nothing.
        let again = try scratch.store(["--mode", "move", scratch.archive + "/studies"])
        #expect(again.status == 0)
        #expect(scratch.archiveFiles().files.count == 36)
    }

    @Test func layoutTemplates() throws {
        let scratch = try StoreScratch("layout")
        let paths = try scratch.writeSamples()
        let run = try scratch.store(["--layout", "{patient_id}/{modality}-{study}/{sop}", scratch.inputs])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(scratch.archiveFiles().files.contains("PID0/CT-2.25.100000/2.25.100000.1.1"))
        #expect(scratch.archiveFiles().files.count == paths.count)
        for bad in ["../{sop}", "/tmp/{sop}", "{study}/x.dcm", "{bogus}/{sop}", ".hidden/{sop}", "a//{sop}", "a b/{sop}", "{sop"] {
            let refused = try scratch.store(["--layout", bad, paths[0]])
            #expect(refused.status == 1, "layout \(bad) refused")
            #expect(refused.stdout.isEmpty)
        }
    }

    @Test func standardInputAndFileLists() throws {
        let scratch = try StoreScratch("inputs")
        let paths = try scratch.writeSamples()
        let piped = try scratch.store(["-"], stdin: try Data(contentsOf: URL(fileURLWithPath: paths[3])))
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.referenced.first?.source == "-")
        #expect(piped.referenced.first?.storedPath.flatMap { FileManager.default.contents(atPath: $0) } == FileManager.default.contents(atPath: paths[3]))

        let list = scratch.directory + "/list"
        try Data((paths[0..<10].joined(separator: "\0") + "\0").utf8).write(to: URL(fileURLWithPath: list))
        let listed = try scratch.store(["--files-from", list, "-0"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.referenced.count == 10)
        let fromStdin = try scratch.store(["--files-from", "-"], stdin: Data((paths.joined(separator: "\n") + "\n/no/such/file\n").utf8))
        #expect(fromStdin.status == 22)
        #expect(fromStdin.referenced.count == 36)
        #expect(fromStdin.failure(for: "/no/such/file")?.failure == 0x0110)

        let nothing = try scratch.store([])
        #expect(nothing.status == 1, "no input is a usage error")
        let empty = try scratch.store(["-"], stdin: Data())
        #expect(empty.status == 23)
    }

    @Test func leftoversOfADeadProcessAreCleanedAndIndexed() throws {
        let scratch = try StoreScratch("recover")
        let paths = try scratch.writeSamples()
        #expect(try scratch.store([paths[0]]).status == 0)
        // What a process killed after renaming two files, before indexing them, leaves behind: its
        // journal (not locked: the owner is gone), a temporary file, and the two renamed files.
        let folder = "studies/2.25.100000/series/2.25.100000.1/instances"
        let token = "4242-deadbeef"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: scratch.archive + "/\(folder)/.dwc-tmp-\(token)-7"))
        var placed: [String] = []
        for path in paths[1...2] {
            let sop = try sopInstanceUID(of: path)
            let relative = "\(folder)/\(sop).dcm"
            try FileManager.default.copyItem(atPath: path, toPath: scratch.archive + "/" + relative)
            placed.append(relative)
        }
        let journal = "T\t\(folder)\nP\t\(placed[0])\nP\t\(placed[1])\n"
        try Data(journal.utf8).write(to: URL(fileURLWithPath: scratch.archive + "/.dwc/store/\(token).journal"))
        // A live process's temporary file stays: its journal is locked.
        let liveToken = "1-live"
        let liveJournal = scratch.archive + "/.dwc/store/\(liveToken).journal"
        try Data("T\t\(folder)\n".utf8).write(to: URL(fileURLWithPath: liveJournal))
        let fd = open(liveJournal, O_RDONLY)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX) == 0)
        try Data([4]).write(to: URL(fileURLWithPath: scratch.archive + "/\(folder)/.dwc-tmp-\(liveToken)-1"))

        let run = try scratch.store([paths[5]])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("removed 1 temporary files, indexed 2 stored files"), "\(run.stderr)")
        #expect(scratch.archiveFiles().temporaries == ["\(folder)/.dwc-tmp-\(liveToken)-1"])
        #expect(try scratch.indexRows().count == 4)
        #expect(scratch.journals() == ["\(liveToken).journal"])
        #expect(StoreOperation.isAbandonedTemporary(scratch.archive + "/\(folder)/.dwc-tmp-\(liveToken)-1",
                                                    location: ArchiveLocation(archive: scratch.archive, index: nil)) == false)
    }

    @Test func atomicWriteReplacesWholeFilesOnly() throws {
        let scratch = try StoreScratch("atomic")
        let path = scratch.directory + "/out.bin"
        try AtomicFile.write([1, 2, 3], to: path)
        try AtomicFile.write(Array(repeating: 7, count: 100_000), to: path)
        #expect(FileManager.default.contents(atPath: path) == Data(repeating: 7, count: 100_000))
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.directory)
        #expect(!names.contains { $0.hasPrefix(".dwc-tmp-") }, "\(names)")
        #expect(throws: DwcError.self) { try AtomicFile.write([1], to: scratch.directory + "/missing/out.bin") }
        // A fresh temporary file without a journal belongs to a live writer; an old one does not.
        let location = ArchiveLocation(archive: scratch.directory, index: nil)
        let temporary = scratch.directory + "/.dwc-tmp-w1x2-1"
        try Data([0]).write(to: URL(fileURLWithPath: temporary))
        #expect(!StoreOperation.isAbandonedTemporary(temporary, location: location))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: temporary)
        #expect(StoreOperation.isAbandonedTemporary(temporary, location: location))
    }

    @Test func layoutValuesAreSanitised() throws {
        let layout = try StoreLayout(template: "{patient_id}/{modality}/{sop}.dcm")
        func path(_ patient: String?, _ modality: String?) -> String {
            layout.relativePath(for: .init(study: "1.2", series: "1.2.3", sop: "1.2.3.4", modality: modality, patientID: patient))
        }
        #expect(path("PID 1/2", "CT") == "PID_1_2/CT/1.2.3.4.dcm")
        #expect(path("..", ".") == "_./_/1.2.3.4.dcm")
        #expect(path(nil, "") == "UNKNOWN/UNKNOWN/1.2.3.4.dcm")
        #expect(path("Müller", "MR") == "M__ller/MR/1.2.3.4.dcm")
        #expect(path(String(repeating: "x", count: 100), "MR").hasPrefix(String(repeating: "x", count: 64) + "/"))
        #expect(StoreLayout.standard.relativePath(for: .init(study: "1.2", series: "1.2.3", sop: "1.2.3.4"))
                    == "studies/1.2/series/1.2.3/instances/1.2.3.4.dcm")
        #expect(fileURI("/a b/ü.dcm") == "file:///a%20b/%C3%BC.dcm")
    }

    @Test func archiveThatCannotBeWrittenIsAnOutputError() throws {
        guard getuid() != 0 else { return }  // root writes anywhere
        let scratch = try StoreScratch("readonly")
        let paths = try scratch.writeSamples()
        try FileManager.default.createDirectory(atPath: scratch.archive, withIntermediateDirectories: true)
        chmod(scratch.archive, 0o555)
        defer { chmod(scratch.archive, 0o755) }
        #expect(try scratch.store([paths[0]]).status == 45)
    }
}
