import DicomRemote
import Testing
import DicomTestSupport

@Suite struct RangeMergePlannerTests {
    typealias Request = RangeMergePlanner.Request

    /// Serves a plan from an in-memory "object", as a server would (short at the end).
    static func serve(_ plan: RangeMergePlanner.Plan, object: [UInt8]) -> [[UInt8]] {
        plan.requests.map { request in
            let start = Int(min(request.offset, UInt64(object.count)))
            return Array(object[start..<min(object.count, start + request.length)])
        }
    }

    static func direct(_ spans: [(offset: UInt64, length: Int)], object: [UInt8]) -> [[UInt8]] {
        spans.map { span in
            let start = Int(min(span.offset, UInt64(object.count)))
            return Array(object[start..<min(object.count, start + max(0, span.length))])
        }
    }

    @Test func adjacentSpansBecomeOneRequest() {
        let spans = (0..<10).map { (offset: UInt64(1000 + $0 * 500), length: 500) }
        let plan = RangeMergePlanner().plan(spans)
        #expect(plan.requests == [Request(offset: 1000, length: 5000)])
        #expect(plan.slices.map(\.start) == (0..<10).map { $0 * 500 })
        #expect(plan.slices.allSatisfy { $0.request == 0 && $0.length == 500 })
    }

    @Test func gapsUpToTheLimitMergeAndLargerOnesDoNot() {
        let planner = RangeMergePlanner(maxGap: 100, maxRequestLength: 1 << 20, maxGapFraction: .infinity)
        let merged = planner.plan([(0, 10), (110, 10)])            // gap 100
        #expect(merged.requests == [Request(offset: 0, length: 120)])
        let split = planner.plan([(0, 10), (111, 10)])             // gap 101
        #expect(split.requests == [Request(offset: 0, length: 10), Request(offset: 111, length: 10)])
    }

    @Test func aGapMergesOnlyWhileItIsASmallShareOfTheBytesWanted() {
        // Default: 64 KiB gap, 1 % of the bytes wanted. 2 KB tiles 10 KB apart stay apart;
        // 8 MiB spans 64 KiB apart share a request; adjacent tiles always do.
        let planner = RangeMergePlanner()
        #expect(planner.plan([(0, 2000), (12_000, 2000)]).requests.count == 2)
        #expect(planner.plan([(0, 2000), (2000, 2000), (4000, 2000)]).requests.count == 1)
        let big = 8 << 20
        #expect(planner.plan([(0, big), (UInt64(big) + 65_536, 100)]).requests.count == 1)
        #expect(planner.plan([(0, big), (UInt64(big) + 65_537, 100)]).requests.count == 2, "over maxGap")
        // The waste adds up over a request: many small gaps stop merging at 1 %.
        let tiles = (0..<50).map { (offset: UInt64($0) * 10_100, length: 10_000) }  // 100-byte gaps: 1 % each
        #expect(planner.plan(tiles).requests.count == 1)
        let wider = (0..<50).map { (offset: UInt64($0) * 10_300, length: 10_000) }  // 1.5 %: never
        #expect(planner.plan(wider).requests.count == 50)
    }

    @Test func scatteredSpansStayApart() {
        let spans = (0..<10).map { (offset: UInt64($0) * 1_000_000, length: 4000) }
        let plan = RangeMergePlanner().plan(spans)
        #expect(plan.requests.count == 10)
        #expect(plan.requestedBytes == 40_000)
    }

    @Test func theCapStartsANewRequest() {
        let planner = RangeMergePlanner(maxGap: 64, maxRequestLength: 1000, maxGapFraction: .infinity)
        let spans = (0..<5).map { (offset: UInt64($0 * 300), length: 300) }
        let plan = planner.plan(spans)
        #expect(plan.requests == [Request(offset: 0, length: 900), Request(offset: 900, length: 600)])
        #expect(plan.slices.map(\.request) == [0, 0, 0, 1, 1])
    }

    @Test func aSpanLargerThanTheCapIsOneRequestOfItsOwn() {
        let planner = RangeMergePlanner(maxGap: 64, maxRequestLength: 1000)
        let plan = planner.plan([(0, 100), (100, 5000), (5100, 100)])
        #expect(plan.requests == [Request(offset: 0, length: 100), Request(offset: 100, length: 5000), Request(offset: 5100, length: 100)])
    }

    @Test func duplicatesAndOutOfOrderSpansAreFetchedOnceAndReturnedInInputOrder() {
        let object = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let spans: [(offset: UInt64, length: Int)] = [(5000, 100), (1000, 100), (5000, 100), (1100, 50), (1020, 10), (3000, 0)]
        let plan = RangeMergePlanner(maxGap: 0, maxRequestLength: 1 << 20).plan(spans)
        #expect(plan.requests == [Request(offset: 1000, length: 150), Request(offset: 5000, length: 100)])
        #expect(plan.slices[0] == plan.slices[2])
        #expect(plan.slices[5].request == nil)
        #expect(plan.spans(from: Self.serve(plan, object: object)) == Self.direct(spans, object: object))
    }

    @Test func overlappingSpansShareARequest() {
        let plan = RangeMergePlanner(maxGap: 0, maxRequestLength: 1 << 20).plan([(100, 50), (120, 100), (90, 20)])
        #expect(plan.requests == [Request(offset: 90, length: 130)])
        #expect(plan.slices == [.init(request: 0, start: 10, length: 50), .init(request: 0, start: 30, length: 100), .init(request: 0, start: 0, length: 20)])
    }

    @Test func spansPastTheEndComeBackShort() {
        let object = [UInt8](repeating: 9, count: 1000)
        let spans: [(offset: UInt64, length: Int)] = [(900, 50), (950, 200), (2000, 10)]
        let plan = RangeMergePlanner().plan(spans)
        let out = plan.spans(from: Self.serve(plan, object: object))
        #expect(out.map(\.count) == [50, 50, 0])
    }

    @Test func extremeOffsetsAndLengthsDoNotTrap() {
        let plan = RangeMergePlanner(maxGap: UInt64.max, maxRequestLength: UInt64.max, maxGapFraction: .infinity)
            .plan([(UInt64.max - 10, 100), (0, Int.max), (5, -3)])
        #expect(plan.slices[2].request == nil)
        #expect(plan.slices[0].length == 10)
        #expect(plan.requests.allSatisfy { $0.length >= 0 })
    }

    /// Random batches against direct slicing: every span's bytes come back exactly, requests are
    /// in offset order, none exceeds the cap unless it is one span, and every request starts and
    /// ends on span boundaries. Odd rounds use disjoint spans (as frames are), whose requests
    /// must not overlap; overlapping spans may give overlapping requests when the cap splits them.
    @Test func randomBatchesMatchDirectReads() {
        var rng = SplitMix64(seed: 8)
        let object = (0..<200_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        for round in 0..<400 {
            let planner = RangeMergePlanner(maxGap: UInt64(rng.next() % 5000), maxRequestLength: 1000 + rng.next() % 50_000,
                                            maxGapFraction: [0.01, 0.5, .infinity][round % 3])
            let count = Int(1 + rng.next() % 40)
            var spans: [(offset: UInt64, length: Int)]
            if round % 2 == 1 {
                var cursor: UInt64 = 0
                spans = (0..<count).map { _ in
                    cursor += rng.next() % 9000
                    defer { cursor += 1 }
                    return (offset: cursor, length: Int(1 + rng.next() % 6000))
                }.map { ($0.offset, $0.length) }
                for i in spans.indices.reversed() { spans.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
                // Disjoint: make each span end before the next one starts.
                let sorted = spans.sorted { $0.offset < $1.offset }
                spans = spans.map { span in
                    let next = sorted.first { $0.offset > span.offset }?.offset ?? UInt64.max
                    return (span.offset, Int(min(UInt64(span.length), next - span.offset)))
                }
            } else {
                spans = (0..<count).map { _ in (offset: rng.next() % 210_000, length: Int(rng.next() % 8000)) }
            }
            let plan = planner.plan(spans)
            #expect(plan.spans(from: Self.serve(plan, object: object)) == Self.direct(spans, object: object), "round \(round)")
            for (a, b) in zip(plan.requests, plan.requests.dropFirst()) {
                #expect(a.offset < b.offset, "round \(round)")
                if round % 2 == 1 { #expect(a.offset + UInt64(a.length) <= b.offset, "round \(round)") }
            }
            let longest = spans.map(\.length).max() ?? 0
            #expect(plan.requests.allSatisfy { UInt64($0.length) <= planner.maxRequestLength || $0.length <= longest }, "round \(round)")
            for request in plan.requests {
                #expect(spans.contains { $0.offset == request.offset && $0.length > 0 }, "round \(round)")
                #expect(spans.contains { $0.offset + UInt64($0.length) == request.offset + UInt64(request.length) && $0.length > 0 }, "round \(round)")
            }
        }
    }
}

