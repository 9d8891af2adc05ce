import DicomCore

/// A list of 1-based frame numbers as users write them: `1,3,5-8`.
public struct FrameSelection: Sendable, Equatable {
    public let ranges: [ClosedRange<Int>]

    public init(parsing text: String) throws {
        var ranges: [ClosedRange<Int>] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let low = Int(bounds[0].trimmingCharacters(in: " ")),
                  let high = bounds.count == 2 ? Int(bounds[1].trimmingCharacters(in: " ")) : low,
                  low <= high else {
                throw DwcError(.syntax, "--frames '\(text)': expected frame numbers like 1,3,5-8")
            }
            ranges.append(low...high)
        }
        self.ranges = ranges
    }

    /// The frames in the order given; a number outside 1…count is exit 84.
    public func frames(count: Int, instance: String) throws -> [Int] {
        for range in ranges where range.lowerBound < 1 || range.upperBound > count {
            let bad = range.lowerBound < 1 ? range.lowerBound : range.upperBound
            throw DwcError(.frameOutOfRange, "\(instance): frame \(bad) is out of range; valid frames are 1-\(count)")
        }
        return ranges.flatMap { Array($0) }
    }
}
