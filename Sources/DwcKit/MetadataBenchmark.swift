import DicomIndex
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Times `dwc metadata` in process, for Scripts/bench_metadata.py, the way the peer's number is
/// taken: DICOMfileClient.retrieve_series_metadata is a call on a client whose database is
/// already open. So the index is opened once and the operation runs `rounds` times on it, its
/// output written to /dev/null in 64 KiB writes (as the command buffers stdout). Opening the
/// index is timed on its own.
public struct MetadataBenchmark: Sendable {
    public struct Result: Sendable {
        /// Instances delivered by each call.
        public var instances = 0
        /// Bytes of JSON each call wrote.
        public var outputBytes = 0
        /// Median of the calls after the first, on the open index.
        public var medianCallMilliseconds = 0.0
        /// The first call: dispatch threads, page cache and SQLite's cache were cold for it.
        public var firstCallMilliseconds = 0.0
        /// Median of `rounds` opens (and closes) of the index alone.
        public var medianOpenMilliseconds = 0.0
    }

    public init() {}

    public func run(_ operation: MetadataOperation, rounds: Int) throws -> Result {
        var result = Result()
        let rounds = max(1, rounds)
        var opens: [Double] = []
        for _ in 0..<rounds {
            let start = monotonicSeconds()
            let index = try openIndex(operation.location)
            opens.append(monotonicSeconds() - start)
            withExtendedLifetime(index) {}
        }
        result.medianOpenMilliseconds = median(opens) * 1000

        let index = try openIndex(operation.location)
        let output = try NullOutput()
        let sink = OutputSink(write: { output.write($0) }, warning: { _ in }, error: { _ in })
        var calls: [Double] = []
        for round in 0...rounds {
            output.reset()
            let start = monotonicSeconds()
            let summary = try operation.run(sink: sink, index: index)
            output.flush()
            let elapsed = monotonicSeconds() - start
            if round == 0 {
                result.firstCallMilliseconds = elapsed * 1000
            } else {
                calls.append(elapsed)
            }
            result.instances = summary.delivered
            result.outputBytes = output.written
        }
        result.medianCallMilliseconds = median(calls) * 1000
        return result
    }

    private func openIndex(_ location: ArchiveLocation) throws -> ArchiveIndex {
        do { return try ArchiveIndex(path: location.indexPath, create: false) } catch { throw DwcError(error) }
    }

    private func median(_ samples: [Double]) -> Double {
        let sorted = samples.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}

/// /dev/null behind a 64 KiB buffer: what `dwc metadata > /dev/null` pays for its output.
private final class NullOutput: Sendable {
    private let descriptor: Int32
    private let state = Mutex<(buffer: [UInt8], written: Int)>(([], 0))

    init() throws {
        descriptor = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DwcError(.cannotWriteOutput, "/dev/null: cannot open") }
    }

    deinit { close(descriptor) }

    var written: Int { state.withLock { $0.written } }

    func reset() { state.withLock { $0.written = 0 } }

    func write(_ bytes: [UInt8]) {
        state.withLock { state in
            state.buffer.append(contentsOf: bytes)
            state.written += bytes.count
            if state.buffer.count >= 1 << 16 { drain(&state.buffer) }
        }
    }

    func flush() { state.withLock { drain(&$0.buffer) } }

    private func drain(_ buffer: inout [UInt8]) {
        guard !buffer.isEmpty else { return }
        _ = buffer.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        buffer.removeAll(keepingCapacity: true)
    }
}
