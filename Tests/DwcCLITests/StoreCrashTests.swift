import DicomTestSupport
import DicomCore
import DicomIndex
import DwcKit
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `dwc store` killed with SIGKILL at random moments: the archive and the index must only ever
/// hold complete instances, and a re-run must complete the set without doubling anything.
@Suite(.serialized) struct StoreCrashTests {
    /// What every state after a kill must satisfy; `complete` after an uninterrupted run.
    func check(_ scratch: StoreScratch, sources: [String: Data], complete: Bool, context: String) throws {
        let rows = try scratch.indexRows()
        for (sop, path) in rows {
            #expect(scratch.bytes(path) == sources[sop], "\(context): indexed \(sop) at \(path) is byte-identical to its source")
        }
        let (files, temporaries) = scratch.archiveFiles()
        for file in files {
            let sop = String((file as NSString).lastPathComponent.dropLast(".dcm".count))
            #expect(sources[sop] != nil && scratch.bytes(file) == sources[sop], "\(context): \(file) under the layout is a complete copy of an input")
        }
        if !rows.isEmpty { #expect(try scratch.integrityCheck() == "ok", "\(context): index integrity") }
        guard complete else { return }
        #expect(Set(rows.keys) == Set(sources.keys), "\(context): every input indexed once")
        #expect(files.count == sources.count, "\(context): one file per input, nothing doubled")
        #expect(Set(rows.values) == Set(files), "\(context): index rows and files agree")
        #expect(temporaries.isEmpty, "\(context): temporary files removed by the re-run: \(temporaries)")
        #expect(scratch.journals().isEmpty, "\(context): no journal left")
    }

    @Test func killedAtRandomMomentsLeavesOnlyCompleteInstances() throws {
        let scratch = try StoreScratch("crash")
        let paths = try scratch.writeSamples(variants: 2)
        var sources: [String: Data] = [:]
        for path in paths { sources[try sopInstanceUID(of: path)] = try Data(contentsOf: URL(fileURLWithPath: path)) }
        #expect(sources.count == 108)

        let seed = ProcessInfo.processInfo.environment["DWC_CRASH_SEED"].flatMap { UInt64($0) } ?? 20_261_126
        var random = SplitMix64(seed: seed)
        print("StoreCrashTests: seed \(seed) (DWC_CRASH_SEED replays a schedule)")

        // How long an uninterrupted run takes here: kills land anywhere from start-up to the end.
        let started = Date()
        let first = try scratch.store([scratch.inputs])
        let duration = Date().timeIntervalSince(started)
        #expect(first.status == 0, "\(first.stderr)")
        try check(scratch, sources: sources, complete: true, context: "uninterrupted run")
        try FileManager.default.removeItem(atPath: scratch.archive)

        var kills = 0, attempts = 0, runsInArchive = 0
        var estimate = duration * 1.2
        let deadline = Date().addingTimeInterval(50)
        while kills < 50, attempts < 400, Date() < deadline {
            attempts += 1
            runsInArchive += 1
            let process = Process()
            process.executableURL = URL(fileURLWithPath: DwcProcess.binary)
            process.arguments = ["store", "-q", "--compact", "-A", scratch.archive, scratch.inputs]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let launched = Date()
            try process.run()
            let delay = Double.random(in: 0...estimate, using: &random)
            while process.isRunning, Date().timeIntervalSince(launched) < delay { usleep(500) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
            } else {
                // Finished first: later runs (more already stored) are shorter; aim within them.
                estimate = max(0.02, (estimate + Date().timeIntervalSince(launched) * 1.1) / 2)
            }
            process.waitUntilExit()
            let killed = process.terminationReason == .uncaughtSignal
            if killed { kills += 1 }
            try check(scratch, sources: sources, complete: false, context: "kill \(attempts) after \(Int(delay * 1000)) ms")
            // Every few kills the same archive is finished by a clean run and checked whole, then
            // the next kills start over on an empty archive.
            if runsInArchive == 4 {
                let rerun = try scratch.store([scratch.inputs])
                #expect(rerun.status == 0, "\(rerun.stderr)")
                #expect(rerun.failed.isEmpty)
                try check(scratch, sources: sources, complete: true, context: "re-run after kill \(attempts)")
                try FileManager.default.removeItem(atPath: scratch.archive)
                runsInArchive = 0
            }
        }
        print("StoreCrashTests: \(kills) kills landed mid-run in \(attempts) attempts")
        #expect(kills >= 50, "at least 50 kills while dwc store was running")
        let rerun = try scratch.store([scratch.inputs])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        try check(scratch, sources: sources, complete: true, context: "final re-run")
        // dwc index finds nothing new: every file the store left is indexed.
        let index = try DwcProcess.run(["index", "-A", scratch.archive])
        #expect(index.stderr.contains("0 added, 0 updated"), "\(index.stderr)")
    }
}
