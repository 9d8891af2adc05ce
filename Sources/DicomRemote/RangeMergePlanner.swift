/// Plans the ranged requests for a batch of reads from one object: spans that are adjacent or
/// close together become one request (a small gap costs less than a round trip), up to a size
/// cap so one request never holds up the others for long; every span is then cut back out of
/// its request's bytes.
///
/// Spans may come in any order, overlap or repeat: each is served from exactly one request,
/// and the output keeps the order of the input.
public struct RangeMergePlanner: Sendable {
    /// Spans at most this many bytes apart are fetched together (the gap bytes are wasted).
    public var maxGap: UInt64
    /// ...and only while the gap bytes of a request stay within this fraction of the bytes it
    /// is made for. Adjacent spans (no gap) always merge. Without it, two 2 KB tiles 60 KiB
    /// apart would cost 64 KiB: on a whole-slide image, random tiles would transfer several
    /// times their size. With it, a 64 KiB gap joins spans of 6.4 MiB or more.
    public var maxGapFraction: Double
    /// A merged request grows no larger than this; a single span larger than it is still one
    /// request of its own (it is never split).
    public var maxRequestLength: UInt64

    public init(maxGap: UInt64 = 64 * 1024, maxRequestLength: UInt64 = 16 * 1024 * 1024, maxGapFraction: Double = 0.01) {
        self.maxGap = maxGap
        self.maxGapFraction = maxGapFraction
        self.maxRequestLength = maxRequestLength
    }

    /// One ranged request: `length` bytes from `offset`.
    public struct Request: Sendable, Equatable {
        public var offset: UInt64
        public var length: Int
        public init(offset: UInt64, length: Int) { self.offset = offset; self.length = length }
    }

    /// Where one input span lies in the responses: `length` bytes from `start` of request
    /// `request`'s bytes. A zero-length span needs no request (`request` is nil).
    public struct Slice: Sendable, Equatable {
        public var request: Int?
        public var start: Int
        public var length: Int
        public init(request: Int?, start: Int, length: Int) { self.request = request; self.start = start; self.length = length }
    }

    public struct Plan: Sendable, Equatable {
        /// In ascending offset order. Requests for disjoint spans (frames) never overlap; an
        /// input span that overlaps another may get a request overlapping the previous one when
        /// the cap keeps them apart.
        public var requests: [Request]
        /// One per input span, in input order.
        public var slices: [Slice]

        /// Cuts each input span out of the requests' bytes (`responses[i]` answers
        /// `requests[i]`). A response may be shorter than asked where the object ends; the spans
        /// reaching past it come back short, as `ByteSource.read` does at the end of a source.
        public func spans(from responses: [[UInt8]]) -> [[UInt8]] {
            precondition(responses.count == requests.count, "one response per planned request")
            return slices.map { slice in
                guard let request = slice.request else { return [] }
                let bytes = responses[request]
                let start = min(slice.start, bytes.count)
                let end = min(slice.start + slice.length, bytes.count)
                return Array(bytes[start..<end])
            }
        }

        /// Bytes requested in all (spans plus the gaps merged over).
        public var requestedBytes: Int { requests.reduce(0) { $0 + $1.length } }
    }

    /// Plans requests for `spans` (offset, length). Negative lengths count as zero; a span
    /// running past UInt64.max is clipped there.
    public func plan(_ spans: [(offset: UInt64, length: Int)]) -> Plan {
        // Work on [start, end) byte ranges sorted by start, longest first on ties so a repeat
        // or a span inside another joins the request that already covers it.
        let ranges = spans.map { span -> (start: UInt64, end: UInt64) in
            let length = UInt64(max(0, span.length))
            let (end, overflow) = span.offset.addingReportingOverflow(length)
            return (span.offset, overflow ? UInt64.max : end)
        }
        let order = ranges.indices.filter { ranges[$0].end > ranges[$0].start }.sorted {
            ranges[$0].start != ranges[$1].start ? ranges[$0].start < ranges[$1].start : ranges[$0].end > ranges[$1].end
        }
        // A request's length must fit an Int (the responses are arrays).
        let cap = min(maxRequestLength, UInt64(Int.max))
        var requests: [(start: UInt64, end: UInt64)] = []
        // Gap bytes of the last request so far.
        var wasted: UInt64 = 0
        var owner = [Int?](repeating: nil, count: spans.count)
        for index in order {
            let range = ranges[index]
            if var last = requests.last {
                let gap = range.start > last.end ? range.start - last.end : 0
                let mergedEnd = max(last.end, range.end)
                let wanted = (mergedEnd - last.start) - (wasted + gap)
                let cheap = gap == 0 || (gap <= maxGap && Double(wasted + gap) <= maxGapFraction * Double(wanted))
                if cheap, mergedEnd - last.start <= cap || range.end <= last.end {
                    last.end = mergedEnd
                    wasted += gap
                    requests[requests.count - 1] = last
                    owner[index] = requests.count - 1
                    continue
                }
            }
            requests.append(range)
            wasted = 0
            owner[index] = requests.count - 1
        }
        let slices = ranges.indices.map { index -> Slice in
            guard let request = owner[index] else { return Slice(request: nil, start: 0, length: 0) }
            let range = ranges[index]
            return Slice(request: request, start: Int(range.start - requests[request].start), length: Int(range.end - range.start))
        }
        return Plan(requests: requests.map { Request(offset: $0.start, length: Int($0.end - $0.start)) }, slices: slices)
    }
}
