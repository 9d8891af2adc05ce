import Synchronization

/// Times `dwc retrieve-frames` of URLs in process, for Scripts/bench_remote.py, the way the
/// peer's in-process number is taken: highdicom's is a call in a Python process that already
/// made one (imports done) and that makes a new fsspec file system (new connections), opens the
/// object (its header and offset table read) and reads the frames into memory. So each call
/// here starts with a new RemoteClient (no kept connections) and runs the whole operation: the
/// index opened, the object's row and frame table read, the frames fetched and delivered as a
/// multipart document into memory. The first call of the process (libcurl's and OpenSSL's
/// global set-up, cold caches) is reported apart.
public struct RemoteFramesBenchmark: Sendable {
    public struct Result: Sendable {
        public var frames = 0
        /// Bytes of the multipart document of each call.
        public var outputBytes = 0
        /// Median of the calls after the first.
        public var medianCallMilliseconds = 0.0
        public var firstCallMilliseconds = 0.0
        /// Requests and body bytes of the last call.
        public var requests = 0
        public var requestBytes: UInt64 = 0
    }

    public init() {}

    public func run(_ operation: RetrieveFramesOperation, rounds: Int) throws -> Result {
        var operation = operation
        operation.output = .multipart
        var result = Result()
        var calls: [Double] = []
        for round in 0...max(1, rounds) {
            RemoteAccess.resetClient()
            let delivered = Mutex<[[UInt8]]>([])
            let sink = RetrieveFramesOperation.Sink(write: { bytes in delivered.withLock { $0.append(bytes) } }, warning: { _ in })
            let start = monotonicSeconds()
            result.frames = try operation.run(sink: sink)
            let elapsed = monotonicSeconds() - start
            if round == 0 { result.firstCallMilliseconds = elapsed * 1000 } else { calls.append(elapsed) }
            result.outputBytes = delivered.withLock { $0.reduce(0) { $0 + $1.count } }
            if let statistics = RemoteAccess.statistics { (result.requests, result.requestBytes) = statistics }
        }
        result.medianCallMilliseconds = calls.sorted()[calls.count / 2] * 1000
        return result
    }
}
