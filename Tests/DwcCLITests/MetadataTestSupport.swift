import DicomCore
import DicomParser
import DwcKit
import Foundation
import Testing

/// Fixtures and helpers shared by the metadata, retrieve and retrieve-bulkdata CLI tests.
enum WADOFixtures {
    /// A temporary directory, removed when the value goes away.
    final class Directory {
        let path: String
        init() throws {
            path = NSTemporaryDirectory() + "dwc-wado-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func text(_ tag: DicomCore.Tag, _ vr: VR, _ value: String) -> DataElement {
        DataElement(tag: tag, vr: vr, bytes: DicomWriter.textBytes(value))
    }

    static func uid(_ tag: DicomCore.Tag, _ value: String) -> DataElement {
        DataElement(tag: tag, vr: .UI, bytes: DicomWriter.uidBytes(value))
    }

    static func pattern(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ ($0 >> 8)) }
    }

    /// A sample data set with binary values on both sides of the 1024-byte inline threshold, at
    /// the top level and in a sequence, and a small Pixel Data in an icon item (which metadata
    /// must still give by reference).
    static func richDataSet(sop: String = "2.25.4242.1.1", series: String = "2.25.4242.1", study: String = "2.25.4242") -> DataSet {
        var ds = SampleArchive().instances()[0].dataSet
        ds.set(uid(.sopInstanceUID, sop))
        ds.set(uid(.seriesInstanceUID, series))
        ds.set(uid(.studyInstanceUID, study))
        ds.set(text(DicomCore.Tag(0x0009, 0x0010), .LO, "DWC TEST"))
        ds.set(DataElement(tag: DicomCore.Tag(0x0009, 0x1001), vr: .OB, bytes: pattern(3000, seed: 1)))
        ds.set(DataElement(tag: DicomCore.Tag(0x0009, 0x1002), vr: .OB, bytes: pattern(100, seed: 2)))
        ds.set(DataElement(tag: DicomCore.Tag(0x0066, 0x0016), vr: .OF, bytes: pattern(1200, seed: 3)))
        var item = DataSet()
        item.set(DataElement(tag: DicomCore.Tag(0x0028, 0x1201), vr: .OW, bytes: pattern(2048, seed: 4)))
        item.set(DataElement(tag: DicomCore.Tag(0x0028, 0x1202), vr: .OW, bytes: pattern(512, seed: 5)))
        ds.set(DataElement(tag: DicomCore.Tag(0x0008, 0x1140), vr: .SQ, value: .sequence([item])))
        var icon = DataSet()
        icon.set(DataElement(tag: .rows, vr: .US, bytes: [8, 0]))
        icon.set(DataElement(tag: .columns, vr: .US, bytes: [8, 0]))
        icon.set(DataElement(tag: .pixelData, vr: .OB, bytes: pattern(64, seed: 6)))
        ds.set(DataElement(tag: DicomCore.Tag(0x0088, 0x0200), vr: .SQ, value: .sequence([icon])))
        return ds
    }

    /// The deflate codec of DwcKit's loader, so tests can write deflated files.
    static var writer: DicomWriter { DicomWriter(deflate: DicomFileLoader().options.deflate) }

    @discardableResult
    static func write(_ ds: DataSet, syntax: TransferSyntax, to path: String) throws -> [UInt8] {
        let bytes = try writer.part10(dataSet: ds, syntax: syntax)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return bytes
    }

    /// A study of two series whose file names and SOP UIDs do not follow the instance numbers:
    /// series number 2 is written first; one instance has no Instance Number. Returns the SOP
    /// UIDs in the documented order (series number, instance number, missing numbers last).
    static func shuffledStudy(in directory: String, study: String = "2.25.777") throws -> [String] {
        let base = SampleArchive().instances()[0].dataSet
        // (series UID, series number, [(sop, instance number)]) in writing order.
        let plan: [(String, Int, [(String, Int?)])] = [
            ("\(study).9", 2, [("\(study).9.5", 3), ("\(study).9.1", nil), ("\(study).9.7", 1), ("\(study).9.3", 2)]),
            ("\(study).4", 1, [("\(study).4.9", 2), ("\(study).4.2", 1)]),
        ]
        for (series, number, instances) in plan {
            for (sop, instanceNumber) in instances {
                var ds = base
                ds.set(uid(.studyInstanceUID, study))
                ds.set(uid(.seriesInstanceUID, series))
                ds.set(uid(.sopInstanceUID, sop))
                ds.set(text(DicomCore.Tag(0x0020, 0x0011), .IS, String(number)))
                if let instanceNumber { ds.set(text(DicomCore.Tag(0x0020, 0x0013), .IS, String(instanceNumber))) } else { ds.remove(DicomCore.Tag(0x0020, 0x0013)) }
                try write(ds, syntax: .explicitVRLittleEndian, to: "\(directory)/shuffled/\(sop.replacingOccurrences(of: ".", with: "_")).dcm")
            }
        }
        return ["\(study).4.2", "\(study).4.9", "\(study).9.7", "\(study).9.3", "\(study).9.5", "\(study).9.1"]
    }

    /// `dwc index -A directory`, checked.
    static func index(_ directory: String) throws {
        let r = try DwcProcess.run(["index", "-A", directory])
        #expect(r.status == 0, "dwc index: \(r.stderr)")
    }

    static func json(_ data: Data) throws -> Any {
        try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }

    static func sopUIDs(_ objects: [[String: Any]]) -> [String] {
        objects.map { (($0["00080018"] as? [String: Any])?["Value"] as? [String])?.first ?? "?" }
    }

    /// Every BulkDataURI in a DICOM JSON object, with the tag path that leads to it
    /// (e.g. [0x00081140, 0, 0x00281201] for the first item's element).
    static func bulkDataURIs(in object: [String: Any], path: [Int] = []) -> [(path: [Int], uri: String)] {
        var found: [(path: [Int], uri: String)] = []
        for key in object.keys.sorted() {
            guard let tag = Int(key, radix: 16), let element = object[key] as? [String: Any] else { continue }
            if let uri = element["BulkDataURI"] as? String { found.append((path + [tag], uri)) }
            if element["vr"] as? String == "SQ", let items = element["Value"] as? [[String: Any]] {
                for (i, item) in items.enumerated() { found += bulkDataURIs(in: item, path: path + [tag, i]) }
            }
        }
        return found
    }

    /// The length a BulkDataURI names.
    static func length(of uri: String) -> Int {
        guard let range = uri.range(of: "length=") else { return -1 }
        return Int(uri[range.upperBound...].prefix { $0.isNumber }) ?? -1
    }

    /// The element at a tag path in a parsed file.
    static func element(at path: [Int], in dataSet: DataSet) -> DataElement? {
        var current = dataSet
        var rest = path[...]
        while let tag = rest.popFirst() {
            guard let element = current[DicomCore.Tag(rawValue: UInt32(tag))] else { return nil }
            if rest.isEmpty { return element }
            guard let index = rest.popFirst(), let items = element.items, index < items.count else { return nil }
            current = items[index]
        }
        return nil
    }

    /// The bytes of an element as a Part 10 reader holds them: for encapsulated pixel data the
    /// items without the sequence delimiter.
    static func valueBytes(_ element: DataElement, in file: DicomFile) throws -> [UInt8]? {
        if case .encapsulated(let pixels) = element.value {
            let end = pixels.fragments.last.map { $0.offset + $0.length } ?? (pixels.basicOffsetTable.offset + pixels.basicOffsetTable.length)
            return try file.load(BulkReference(offset: element.valueOffset, length: end - element.valueOffset))
        }
        return try file.valueBytes(element)
    }

    /// Writes `bytes` at `offset` of a new file of `size` bytes (the rest a hole).
    static func sparseFile(_ path: String, size: UInt64, writing bytes: [UInt8] = [], at offset: UInt64 = 0) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: size)
        if !bytes.isEmpty {
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: Data(bytes))
        }
    }

    /// Peak resident memory (KiB) of a dwc run with stdout to /dev/null, by /usr/bin/time.
    static func peakMemory(_ arguments: [String]) throws -> (status: Int32, kilobytes: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
        process.arguments = ["-f", "%M", DwcProcess.binary] + arguments
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let last = text.split(separator: "\n").last.map(String.init) ?? ""
        return (process.terminationStatus, Int(last.trimmingCharacters(in: .whitespaces)) ?? -1)
    }

    /// Differences between two parsed files' data sets: same tags, VRs and values (binary
    /// numbers compared in each data set's byte order).
    static func differences(_ a: DataSet, _ fileA: DicomFile, _ b: DataSet, _ fileB: DicomFile, path: String = "") throws -> [String] {
        var out: [String] = []
        let tagsA = a.elements.map(\.tag), tagsB = b.elements.map(\.tag)
        if tagsA != tagsB {
            return ["\(path): tags differ: \(Set(tagsA).symmetricDifference(Set(tagsB)).sorted().map(\.description))"]
        }
        for (x, y) in zip(a.elements, b.elements) {
            let at = "\(path)\(x.tag)"
            if x.vr != y.vr { out.append("\(at): VR \(x.vr) vs \(y.vr)"); continue }
            if let itemsX = x.items {
                guard let itemsY = y.items, itemsX.count == itemsY.count else { out.append("\(at): items differ"); continue }
                for (i, (ix, iy)) in zip(itemsX, itemsY).enumerated() {
                    out += try differences(ix, fileA, iy, fileB, path: "\(at)[\(i)].")
                }
                continue
            }
            guard var bx = try valueBytes(x, in: fileA), var by = try valueBytes(y, in: fileB) else {
                out.append("\(at): no bytes"); continue
            }
            if a.isBigEndian { bx = swapped(bx, vr: x.vr) }
            if b.isBigEndian { by = swapped(by, vr: y.vr) }
            // Text may differ only in its padding byte's presence; binary must be equal.
            if x.vr.isString {
                if x.strings(characterSet: a.characterSet) != y.strings(characterSet: b.characterSet) { out.append("\(at): text differs") }
            } else if bx != by {
                out.append("\(at): \(bx.count) vs \(by.count) bytes differ")
            }
        }
        return out
    }

    static func swapped(_ bytes: [UInt8], vr: VR) -> [UInt8] {
        let width = vr == .AT ? 2 : vr.numericWidth
        guard width > 1 else { return bytes }
        var out = bytes
        var i = 0
        while i + width <= out.count {
            out[i..<(i + width)].reverse()
            i += width
        }
        return out
    }
}
