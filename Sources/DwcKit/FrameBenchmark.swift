import DicomCore
import DicomIndex
import DicomParser
#if canImport(Glibc)
import Glibc
#endif

/// Times frame reads in process, for `make bench`: the first access (layout found by parsing
/// the header and, without a table, scanning the items) and then each frame read alone.
public struct FrameBenchmark: Sendable {
    public struct Result: Sendable {
        public var frames = 0
        public var firstAccessMilliseconds = 0.0
        public var origin = ""
        public var bytesReadFirstAccess: UInt64 = 0
        public var fileSize: UInt64 = 0
        public var medianMicrosecondsPerFrame = 0.0
        public var meanMicrosecondsPerFrame = 0.0
        public var peakRSSKilobytes = 0
    }

    public init() {}

    public func run(path: String, frames: [Int]) throws -> Result {
        var result = Result()
        let start = monotonicSeconds()
        let source = CountingByteSource(try FileByteSource(path: path))
        let file = try DicomFileLoader(stopBeforePixels: true).load(from: source)
        let layout = try FrameLocator.layout(of: file)
        result.firstAccessMilliseconds = (monotonicSeconds() - start) * 1000
        result.bytesReadFirstAccess = source.bytesRead
        result.fileSize = source.size
        result.origin = layout.origin
        let reader = FrameReader(source: try FileByteSource(path: path), layout: layout)
        var samples: [Double] = []
        var checksum = 0
        for number in frames {
            let t = monotonicSeconds()
            let bytes = try reader.frame(number)
            samples.append(monotonicSeconds() - t)
            checksum &+= bytes.count
        }
        result.frames = frames.count
        samples.sort()
        if !samples.isEmpty {
            result.medianMicrosecondsPerFrame = samples[samples.count / 2] * 1e6
            result.meanMicrosecondsPerFrame = samples.reduce(0, +) / Double(samples.count) * 1e6
        }
        var usage = Glibc.rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        result.peakRSSKilobytes = usage.ru_maxrss
        _ = checksum
        return result
    }
}
