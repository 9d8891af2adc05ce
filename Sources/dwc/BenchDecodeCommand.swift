import ArgumentParser
import DwcKit

/// `dwc bench decode FILE`: decode throughput of the listed frames, for Scripts/bench_render.py.
/// Registered under `dwc bench` (hidden).
struct BenchDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Read the listed frames of FILE, then decode them ROUNDS times; print JSON (frames/s).",
        shouldDisplay: false)

    @Option(help: "Frames to decode, e.g. 1-100 (default 1).")
    var frames = "1"

    @Option(help: "Rounds over the frames.")
    var rounds = 5

    @Argument(help: "A DICOM file.")
    var file: String

    func run() throws {
        let list = try FrameSelection(parsing: frames).ranges.flatMap { Array($0) }
        let r = try DecodeBenchmark().run(path: file, frames: list, rounds: rounds)
        Output.write("""
        {"transfer_syntax": "\(r.transferSyntaxUID)", "frames": \(r.frames), "decoded": \(r.decoded), \
        "seconds": \(r.seconds), "frames_per_s": \(r.framesPerSecond), "median_us_per_frame": \(r.medianMicrosecondsPerFrame), \
        "bytes_per_frame": \(r.bytesPerFrame), "pixels_per_frame": \(r.pixelsPerFrame), "checksum": \(r.checksum)}

        """)
    }
}
