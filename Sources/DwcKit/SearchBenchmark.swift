import DicomCore
import DicomIndex
import DicomParser

/// Search timings in process and a synthetic index of any size, for `make bench`.
public struct SearchBenchmark: Sendable {
    public init() {}

    /// Medians over the rounds, in seconds, and the result count.
    public struct Timing: Sendable {
        /// Opening the index (read-only, schema check) for one search.
        public var open: Double
        /// The search on an index already open, output produced (JSON bytes…) and discarded:
        /// what a library call on an open database costs.
        public var query: Double
        /// Both, as one `dwc search` does them after its process started.
        public var openAndQuery: Double
        public var results: Int
    }

    /// Times `operation` `rounds` times each way: the open alone, the query on one open index
    /// (its first run, which prepares the statement and warms the cache, is not counted), and
    /// open plus query on a fresh index each round.
    public func time(_ operation: SearchOperation, rounds: Int) throws -> Timing {
        let rounds = max(1, rounds)
        func median(_ samples: [Double]) -> Double { samples.sorted()[samples.count / 2] }
        var open: [Double] = [], query: [Double] = [], both: [Double] = []
        var results = 0
        let index = try operation.openIndex()
        results = try operation.run(on: index, write: { _ in })
        for _ in 0..<rounds {
            var start = monotonicSeconds()
            _ = try operation.openIndex()
            open.append(monotonicSeconds() - start)
            start = monotonicSeconds()
            results = try operation.run(on: index, write: { _ in })
            query.append(monotonicSeconds() - start)
            start = monotonicSeconds()
            _ = try operation.run(write: { _ in })
            both.append(monotonicSeconds() - start)
        }
        return Timing(open: median(open), query: median(query), openAndQuery: median(both), results: results)
    }

    /// Fills an index with `instances` synthetic instances (12 per series, 3 series per study),
    /// as `dwc index` would record them, without files behind them.
    public func makeSyntheticIndex(path: String, instances: Int, progress: (Int) -> Void) throws {
        let index = try ArchiveIndex(path: path, create: true, rebuild: true)
        let names = ["Doe^Jane", "Smith^John", "Müller^Jürgen", "Šimková^Eva", "Yamada^Tarou=山田^太郎", "Garcia^Maria", "Nguyen^Van", "Okafor^Ada"]
        let modalities = ["CT", "MR", "CR", "US", "PT", "SM"]
        var batch: [IndexedFile] = []
        for n in 0..<instances {
            let seriesNumber = n / 12, studyNumber = seriesNumber / 3, patient = studyNumber / 2
            var ds = DataSet()
            func text(_ tag: UInt32, _ vr: VR, _ value: String) {
                ds.set(DataElement(tag: Tag(rawValue: tag), vr: vr, bytes: DicomWriter.textBytes(value)))
            }
            text(0x0008_0005, .CS, "ISO_IR 192")
            text(0x0008_0016, .UI, "1.2.840.10008.5.1.4.1.1.2")
            text(0x0008_0018, .UI, "2.25.3\(n)")
            text(0x0008_0020, .DA, "\(2000 + studyNumber % 25)\(String(format2: 1 + studyNumber % 12))\(String(format2: 1 + studyNumber % 28))")
            text(0x0008_0030, .TM, "1\(studyNumber % 10)3000")
            text(0x0008_0050, .SH, "A\(studyNumber)")
            text(0x0008_0060, .CS, modalities[seriesNumber % modalities.count])
            text(0x0010_0010, .PN, names[patient % names.count])
            text(0x0010_0020, .LO, "P\(patient)")
            text(0x0010_0030, .DA, "19\(50 + patient % 50)0101")
            text(0x0010_0040, .CS, patient % 2 == 0 ? "F" : "M")
            text(0x0020_000D, .UI, "2.25.1\(studyNumber)")
            text(0x0020_000E, .UI, "2.25.2\(seriesNumber)")
            text(0x0020_0011, .IS, String(seriesNumber % 3 + 1))
            text(0x0020_0013, .IS, String(n % 12 + 1))
            ds.set(DataElement(tag: .rows, vr: .US, bytes: [0, 2]))
            ds.set(DataElement(tag: .columns, vr: .US, bytes: [0, 2]))
            let file = DicomFile(fileMeta: DataSet(), dataSet: ds, transferSyntax: .explicitVRLittleEndian,
                                 source: MemoryByteSource(bytes: []))
            let stamp = InstanceRecord.FileStamp(size: 0, mtimeNanoseconds: 0, inode: Int64(n))
            batch.append(.instance(try InstanceRecord(file: file, path: "synthetic/\(n).dcm", stamp: stamp)))
            if batch.count == 5000 || n == instances - 1 {
                _ = try index.record(batch) { _ in false }
                batch.removeAll(keepingCapacity: true)
                progress(n + 1)
            }
        }
        try index.optimize()
    }
}
