import DicomCodecs
import DicomParser
#if canImport(Glibc)
import Glibc
#endif

/// Decode throughput for `make bench` (`dwc bench decode`): the listed frames are read into
/// memory first, then decoded `rounds` times; only decoding is timed.
public struct DecodeBenchmark: Sendable {
    public struct Result: Sendable {
        public var transferSyntaxUID = ""
        public var frames = 0
        public var decoded = 0
        public var seconds = 0.0
        public var framesPerSecond: Double { seconds > 0 ? Double(decoded) / seconds : 0 }
        public var medianMicrosecondsPerFrame = 0.0
        public var bytesPerFrame = 0
        public var pixelsPerFrame = 0
        /// Sum of the decoded samples' bytes, so the work cannot be skipped.
        public var checksum = 0
    }

    public init() {}

    public func run(path: String, frames: [Int], rounds: Int) throws -> Result {
        let source = try RenderSource.open(path)
        var encoded: [[UInt8]] = []
        for number in frames { encoded.append(try source.frameBytes(number).bytes) }
        let description = source.description
        guard let decoder = DecoderRegistry.decoder(for: description.transferSyntaxUID) else {
            throw DwcError(.unsupportedTransferSyntax, "\(path): no decoder for \(description.transferSyntaxUID)")
        }
        var result = Result()
        result.transferSyntaxUID = description.transferSyntaxUID
        result.frames = frames.count
        result.pixelsPerFrame = description.pixelCount
        result.bytesPerFrame = encoded.isEmpty ? 0 : encoded.reduce(0) { $0 + $1.count } / encoded.count
        var times: [Double] = []
        times.reserveCapacity(frames.count * max(1, rounds))
        for _ in 0..<max(1, rounds) {
            for bytes in encoded {
                let start = Self.now()
                do {
                    let frame = try decoder.decode(bytes, description: description)
                    result.checksum &+= frame.samples.count &+ Int(frame.samples[frame.samples.count / 2])
                } catch {
                    throw DwcError(codec: error, context: path)
                }
                times.append(Self.now() - start)
            }
        }
        result.decoded = times.count
        result.seconds = times.reduce(0, +)
        times.sort()
        if !times.isEmpty { result.medianMicrosecondsPerFrame = times[times.count / 2] * 1e6 }
        return result
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
