import DicomTestSupport
import DicomCore
import DicomIndex
import DicomParser
import DwcKit
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What `dwc store` refuses, and that refusing writes nothing anywhere.
@Suite struct StoreValidationTests {
    func sample(_ number: Int = 0) -> DataSet { SampleArchive().instances()[number].dataSet }

    func uid(_ tag: DicomCore.Tag, _ value: String) -> DataElement { DataElement(tag: tag, vr: .UI, bytes: DicomWriter.uidBytes(value)) }

    /// Nothing under the archive but the index folder, and no index rows.
    func expectNothingStored(_ scratch: StoreScratch, _ context: String = "") throws {
        let (files, temporaries) = scratch.archiveFiles()
        #expect(files.isEmpty, "\(context): nothing stored, found \(files)")
        #expect(temporaries.isEmpty, "\(context): no temporary file left")
        #expect(try scratch.indexRows().isEmpty, "\(context): no index row")
    }

    @Test func truncatedFilesAreNotStored() throws {
        let scratch = try StoreScratch("truncated")
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try scratch.writeSamples()[0])))
        try FileManager.default.removeItem(atPath: scratch.inputs + "/patient0")
        // In the preamble, in the meta, in the middle of a header value, in the pixel data, one byte short.
        var cuts: [String] = []
        for cut in [100, 140, 200, 330, whole.count - 700, whole.count - 1] {
            cuts.append(try scratch.write("cut\(cut).dcm", bytes: Array(whole.prefix(cut))))
        }
        let run = try scratch.store(cuts)
        #expect(run.status == 23, "all failed: \(run.stderr)")
        #expect(run.failed.count == cuts.count)
        #expect(run.referenced.isEmpty)
        for path in cuts {
            let item = try #require(run.failure(for: path), "\(path) reported")
            #expect(item.failure == 0xC000 || item.failure == 0xA900, "\(path): \(item.message ?? "")")
        }
        #expect(run.failure(for: cuts.last!)?.message?.contains("truncated") == true, "a file one byte short is truncated")
        try expectNothingStored(scratch, "truncated")
    }

    @Test func nonDICOMFailsWhenNamedAndIsSkippedInDirectories() throws {
        let scratch = try StoreScratch("junk")
        let text = try scratch.write("notes.txt", bytes: Array("plain text, certainly not a DICOM file at all".utf8))
        var random = SplitMix64(seed: 7)
        let noise = try scratch.write("noise.dcm", bytes: (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) })
        let empty = try scratch.write("empty.dcm", bytes: [])
        let named = try scratch.store([text, noise, empty])
        #expect(named.status == 23)
        #expect(Set(named.failed.compactMap(\.failure)) == [0xC000], "\(named.failed.map { $0.message ?? "" })")
        #expect(named.failed.count == 3)
        // In a directory walk the same files are skipped with a warning; the DICOM file beside them is stored.
        try scratch.writeSamples()
        let walked = try scratch.store([scratch.inputs])
        #expect(walked.status == 0, "\(walked.stderr)")
        #expect(walked.referenced.count == 36)
        #expect(walked.failed.isEmpty)
        #expect(walked.stderr.contains("W: \(text): not a DICOM file; skipped"))
        #expect(walked.stderr.contains("3 skipped-not-DICOM"))
    }

    @Test func toleratedDefectsAreStoredWithAWarningUnlessStrict() throws {
        let scratch = try StoreScratch("defects")
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try scratch.writeSamples()[0])))
        let padded = try scratch.write("padded.dcm", bytes: whole + [0, 0, 0])
        let strict = try scratch.store(["--strict", padded])
        #expect(strict.status == 23)
        #expect(strict.failure(for: padded)?.failure == 0xC000)
        try expectNothingStored(scratch, "strict")
        let lenient = try scratch.store([padded])
        #expect(lenient.status == 0)
        #expect(lenient.stderr.contains("W: \(padded): 3 trailing bytes"), "\(lenient.stderr)")
        let stored = try #require(lenient.referenced.first?.storedPath)
        #expect(FileManager.default.contents(atPath: stored) == Data(whole + [0, 0, 0]), "stored as it is")
    }

    @Test func missingOrMalformedUIDsAreRefused() throws {
        let scratch = try StoreScratch("uids")
        var inputs: [(String, String)] = []
        for (tag, name) in [(DicomCore.Tag.sopClassUID, "class"), (.sopInstanceUID, "instance"), (.studyInstanceUID, "study"), (.seriesInstanceUID, "series")] {
            var ds = sample()
            ds.remove(tag)
            inputs.append((try scratch.write("missing-\(name).dcm", dataSet: ds), "no "))
        }
        for (number, bad) in ["1.2.03", "1..2", "1.2.", "abc", "1.2.3\\4.5", String(repeating: "1.", count: 32) + "1", " 1.2"].enumerated() {
            var ds = sample()
            ds.set(DataElement(tag: .studyInstanceUID, vr: .UI, bytes: DicomWriter.textBytes(bad)))
            inputs.append((try scratch.write("bad\(number).dcm", dataSet: ds), "not a valid UID"))
        }
        let run = try scratch.store(inputs.map(\.0))
        #expect(run.status == 23)
        for (path, words) in inputs {
            let item = try #require(run.failure(for: path))
            #expect(item.failure == 0xA900, "\(path)")
            #expect(item.message?.contains(words) == true, "\(path): \(item.message ?? "")")
        }
        try expectNothingStored(scratch, "UIDs")
    }

    @Test func uidsCraftedAsPathsCannotEscapeTheArchive() throws {
        let scratch = try StoreScratch("escape")
        var inputs: [String] = []
        for (number, tag) in [DicomCore.Tag.sopInstanceUID, .studyInstanceUID, .seriesInstanceUID].enumerated() {
            for (variant, value) in ["../x", "../../../../../../tmp/dwc-escaped", "/tmp/dwc-escaped", "1.2/../../3"].enumerated() {
                var ds = sample()
                ds.set(DataElement(tag: tag, vr: .UI, bytes: DicomWriter.textBytes(value)))
                if tag == .sopInstanceUID {
                    // The meta agrees, so that only the UID's form is wrong.
                    var meta = DicomWriter.fileMeta(for: ds, syntax: .explicitVRLittleEndian)
                    meta.set(DataElement(tag: .mediaStorageSOPInstanceUID, vr: .UI, bytes: DicomWriter.textBytes(value)))
                    inputs.append(try scratch.write("escape\(number)-\(variant).dcm", dataSet: ds, meta: meta))
                } else {
                    inputs.append(try scratch.write("escape\(number)-\(variant).dcm", dataSet: ds))
                }
            }
        }
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: scratch.directory))
        let run = try scratch.store(inputs)
        #expect(run.status == 23)
        #expect(run.failed.count == inputs.count)
        #expect(run.failed.allSatisfy { $0.failure == 0xA900 })
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: scratch.directory)) == before.union(["archive"]))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/dwc-escaped"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/dwc-escaped.dcm"))
        try expectNothingStored(scratch, "crafted UIDs")
        // Free-text values in the layout are reduced to safe characters.
        var ds = sample()
        ds.set(DataElement(tag: DicomCore.Tag(0x0010, 0x0020), vr: .LO, bytes: DicomWriter.textBytes("../../etc/passwd")))
        ds.set(DataElement(tag: DicomCore.Tag(0x0008, 0x0060), vr: .CS, bytes: DicomWriter.textBytes("..")))
        let path = try scratch.write("sanitised.dcm", dataSet: ds)
        let stored = try scratch.store(["--layout", "{patient_id}/{modality}/{sop}.dcm", path])
        #expect(stored.status == 0, "\(stored.stderr)")
        #expect(scratch.archiveFiles().files == ["_._.._etc_passwd/_./2.25.100000.1.1.dcm"])
    }

    @Test func metaMustAgreeWithTheDataSet() throws {
        let scratch = try StoreScratch("meta")
        let ds = sample()
        var otherInstance = DicomWriter.fileMeta(for: ds, syntax: .explicitVRLittleEndian)
        otherInstance.set(uid(.mediaStorageSOPInstanceUID, "2.25.999"))
        var otherClass = DicomWriter.fileMeta(for: ds, syntax: .explicitVRLittleEndian)
        otherClass.set(uid(.mediaStorageSOPClassUID, "1.2.840.10008.5.1.4.1.1.7"))
        var noClass = DicomWriter.fileMeta(for: ds, syntax: .explicitVRLittleEndian)
        noClass.remove(.mediaStorageSOPClassUID)
        let inputs = [try scratch.write("instance.dcm", dataSet: ds, meta: otherInstance),
                      try scratch.write("class.dcm", dataSet: ds, meta: otherClass),
                      try scratch.write("noclass.dcm", dataSet: ds, meta: noClass)]
        let run = try scratch.store(inputs)
        #expect(run.status == 23)
        for path in inputs {
            let item = try #require(run.failure(for: path))
            #expect(item.failure == 0xA900)
            #expect(item.sop == "2.25.100000.1.1", "the failed item names the instance")
            #expect(item.message?.contains("differs from") == true)
        }
        try expectNothingStored(scratch, "meta")
    }

    @Test func aDataSetWithoutMetaNeedsAddMeta() throws {
        let scratch = try StoreScratch("nometa")
        var inputs: [String] = []
        for (number, syntax) in [TransferSyntax.implicitVRLittleEndian, .explicitVRLittleEndian, .explicitVRBigEndian].enumerated() {
            inputs.append(try scratch.write("raw\(number)", dataSet: sample(number), syntax: syntax, raw: true))
        }
        let refused = try scratch.store(inputs)
        #expect(refused.status == 23)
        #expect(refused.failed.allSatisfy { $0.failure == 0xC000 && $0.message?.contains("--add-meta") == true })
        try expectNothingStored(scratch, "no meta")

        let added = try scratch.store(["--add-meta"] + inputs)
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.referenced.count == 3)
        for item in added.referenced {
            #expect(item.warning == 0xB000, "coercion is a warning")
            let stored = try #require(item.storedPath)
            let file = try DicomReader().read(path: stored)
            #expect(file.preamble != nil)
            #expect(file.fileMeta.string(.mediaStorageSOPInstanceUID) == item.sop)
            #expect(file.fileMeta.string(.implementationClassUID) == DicomWriter.implementationClassUID)
            // The data set's bytes are the input's, unchanged, after the new meta.
            let sourcePath = try #require(item.source)
            let source = try #require(FileManager.default.contents(atPath: sourcePath))
            let written = try #require(FileManager.default.contents(atPath: stored))
            #expect(written.count == Int(file.dataSetOffset) + source.count)
            #expect(written.suffix(source.count) == source)
        }
        #expect(try scratch.indexRows().count == 3)
    }

    @Test func absurdLengthsFailFast() throws {
        let scratch = try StoreScratch("lengths")
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try scratch.writeSamples()[0])))
        try FileManager.default.removeItem(atPath: scratch.inputs + "/patient0")
        var inputs: [String] = []
        // The first data set element after the meta (Specific Character Set, explicit VR LE: tag,
        // "CS", 16-bit length) and the pixel data (OW, 32-bit length) given absurd lengths.
        let file = try DicomReader().read(from: MemoryByteSource(bytes: whole))
        let first = Int(file.dataSetOffset)
        var huge = whole
        huge[first + 6] = 0xFF; huge[first + 7] = 0xFF
        inputs.append(try scratch.write("short-length.dcm", bytes: huge))
        let pixel = try #require(file.dataSet[.pixelData])
        for length: UInt32 in [0xFFFF_FFF0, 0x7FFF_FFFF, 0xFFFF_FFFF] {
            var bytes = whole
            let at = Int(pixel.valueOffset) - 4
            bytes[at] = UInt8(length & 0xFF); bytes[at + 1] = UInt8(length >> 8 & 0xFF)
            bytes[at + 2] = UInt8(length >> 16 & 0xFF); bytes[at + 3] = UInt8(length >> 24)
            inputs.append(try scratch.write("pixels-\(String(length, radix: 16)).dcm", bytes: bytes))
        }
        // A sequence whose item claims 4 GiB.
        var ds = sample()
        let item = DataSet(elements: [DataElement(tag: DicomCore.Tag(0x0008, 0x1150), vr: .UI, bytes: DicomWriter.uidBytes("1.2.3"))])
        ds.set(DataElement(tag: DicomCore.Tag(0x0008, 0x1140), vr: .SQ, value: .sequence([item])))
        var bytes = try DicomWriter().part10(dataSet: ds, syntax: .explicitVRLittleEndian)
        let itemTag: [UInt8] = [0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]
        let at = try #require((0..<(bytes.count - 8)).first { Array(bytes[$0..<($0 + 8)]) == itemTag })
        bytes[at + 4] = 0xF0
        inputs.append(try scratch.write("item.dcm", bytes: bytes))
        let started = Date()
        let run = try scratch.store(inputs)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(run.status == 23, "\(run.stderr)")
        for path in inputs {
            let item = try #require(run.failure(for: path))
            #expect(item.failure == 0xC000 || item.failure == 0xA900, "\(path): \(item.message ?? "")")
        }
        try expectNothingStored(scratch, "lengths")
    }

    /// A file-size limit (RLIMIT_FSIZE, as `ulimit -f` sets it) makes write(2) fail with EFBIG,
    /// which dwc reports as out of resources (0xA700), like a full disk; files that fit are stored.
    @Test func aFullDiskIsOutOfResources() throws {
        let scratch = try StoreScratch("full")
        let small = try scratch.writeSamples()
        var big: [String] = []
        var archive = SampleArchive()
        archive.rows = 1024
        archive.columns = 1024
        archive.patients = 1
        archive.studiesPerPatient = 1
        for instance in archive.instances().prefix(3) {
            var ds = instance.dataSet
            let sop = try #require(ds.string(.sopInstanceUID)) + ".99"
            ds.set(uid(.sopInstanceUID, sop))
            big.append(try scratch.write("big/\(sop).dcm", dataSet: ds))
        }
        // The index exists before the limit applies (SQLite's own files grow too).
        let prepare = try scratch.store([small[0]])
        #expect(prepare.status == 0)
        let limitKiB = 1024
        #expect(try FileManager.default.attributesOfItem(atPath: big[0])[.size] as! Int > limitKiB * 1024)
        let shell = try runProgram("/bin/bash", ["-c", "ulimit -f \(limitKiB) && exec \"$0\" \"$@\"", DwcProcess.binary,
                                                 "store", "-A", scratch.archive, "--compact"] + big + Array(small[1...]))
        let run = StoreRun(shell)
        #expect(run.status == 22, "\(run.stderr)")
        for path in big {
            let item = try #require(run.failure(for: path))
            #expect(item.failure == 0xA700, "\(item.message ?? "")")
        }
        #expect(run.referenced.count == small.count - 1, "what fits is stored")
        let (files, temporaries) = scratch.archiveFiles()
        #expect(files.count == small.count)
        #expect(temporaries.isEmpty)
        #expect(try scratch.indexRows().count == small.count)
    }

    /// The same on a small tmpfs where the system allows mounting one (root in CI); skipped, with
    /// the reason printed, where it does not.
    @Test func aFullTmpfsIsOutOfResources() throws {
        let scratch = try StoreScratch("tmpfs")
        let mountPoint = scratch.directory + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = try runProgram("/bin/sh", ["-c", "mount -t tmpfs -o size=1m tmpfs \"$0\" 2>&1", mountPoint])
        guard mount.status == 0 else {
            print("aFullTmpfsIsOutOfResources: not run, cannot mount a tmpfs here: \(mount.text.trimmingCharacters(in: .whitespacesAndNewlines))")
            return
        }
        defer { _ = try? runProgram("/bin/sh", ["-c", "umount \"$0\"", mountPoint]) }
        var archive = SampleArchive()
        archive.rows = 256
        archive.columns = 256
        let paths = try archive.write(to: scratch.inputs)  // 27 × 128 KiB (and 9 deflated): more than 1 MiB
        let run = StoreRun(try DwcProcess.run(["store", "-A", mountPoint, "--index", scratch.directory + "/index.sqlite", "--compact"] + paths))
        #expect(run.status == 22, "\(run.stderr)")
        #expect(!run.failed.isEmpty)
        #expect(run.failed.allSatisfy { $0.failure == 0xA700 }, "\(run.failed.map { $0.message ?? "" })")
        let stored = Set(run.referenced.compactMap(\.storedPath))
        var found: [String] = []
        if let walker = FileManager.default.enumerator(atPath: mountPoint) {
            while let relative = walker.nextObject() as? String {
                if relative.hasPrefix(".dwc") { continue }
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: mountPoint + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                    found.append(mountPoint + "/" + relative)
                }
            }
        }
        #expect(Set(found) == stored, "only complete files, no temporary file left")
    }
}
