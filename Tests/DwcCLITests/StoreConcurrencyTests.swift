import DicomTestSupport
import DicomCore
import DicomIndex
import DicomParser
import DwcKit
import Foundation
import Testing

/// Several `dwc store` processes (and a `dwc index`) on one archive at once, over overlapping
/// inputs: each instance ends up stored once, and the index and the files agree exactly.
@Suite(.serialized) struct StoreConcurrencyTests {
    struct Launched {
        var process: Process
        var output: String
        var errors: String
    }

    func launch(_ arguments: [String], in scratch: StoreScratch, name: String) throws -> Launched {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: DwcProcess.binary)
        process.arguments = arguments
        let output = scratch.directory + "/\(name).json", errors = scratch.directory + "/\(name).err"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        try process.run()
        return Launched(process: process, output: output, errors: errors)
    }

    @Test(arguments: [2, 4])
    func concurrentStoresAgreeWithTheIndex(processes: Int) throws {
        let scratch = try StoreScratch("concurrent")
        let paths = try scratch.writeSamples(variants: 2)
        var sources: [String: Data] = [:]
        for path in paths { sources[try sopInstanceUID(of: path)] = try Data(contentsOf: URL(fileURLWithPath: path)) }
        // The same instance with other content, given to the last process only: whoever stores
        // first wins, the other is told 0111.
        var changed = SampleArchive().instances()[0].dataSet
        changed.set(DataElement(tag: DicomCore.Tag(0x0010, 0x0010), vr: .PN, bytes: DicomWriter.textBytes("Other^Content")))
        let conflicting = try scratch.write("conflict/other.dcm", dataSet: changed)
        let contested = try sopInstanceUID(of: conflicting)

        // Overlapping lists in different orders: process k takes two thirds of the files starting
        // at k/processes of the way round, the first process all of them.
        var launched: [Launched] = []
        var lists: [[String]] = []
        var random = SplitMix64(seed: UInt64(processes))
        for k in 0..<processes {
            var list = k == 0 ? paths : (0..<(paths.count * 2 / 3)).map { paths[($0 + k * paths.count / processes) % paths.count] }
            list.shuffle(using: &random)
            if k == processes - 1 { list.insert(conflicting, at: list.count / 2) }
            lists.append(list)
            let listFile = scratch.directory + "/list\(k)"
            try Data(list.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: listFile))
        }
        for k in 0..<processes {
            launched.append(try launch(["store", "-A", scratch.archive, "--compact", "--files-from", scratch.directory + "/list\(k)"],
                                       in: scratch, name: "store\(k)"))
        }
        // dwc index at the same time, over what the stores are writing.
        let indexer = try launch(["index", "-A", scratch.archive, "--no-prune"], in: scratch, name: "index")
        for item in launched + [indexer] { item.process.waitUntilExit() }
        #expect(indexer.process.terminationStatus == 0, "\(String(decoding: FileManager.default.contents(atPath: indexer.errors) ?? Data(), as: UTF8.self))")

        var winners: [Data] = []
        for (k, item) in launched.enumerated() {
            let stderr = String(decoding: FileManager.default.contents(atPath: item.errors) ?? Data(), as: UTF8.self)
            let run = StoreRun(DwcProcess.Result(status: item.process.terminationStatus,
                                                 stdout: FileManager.default.contents(atPath: item.output) ?? Data(), stderr: stderr))
            #expect(run.parsed, "process \(k): \(stderr)")
            #expect(run.referenced.count + run.failed.count == lists[k].count, "process \(k) answers for every input")
            // The only failures are the contested instance's losers, with 0111.
            for failure in run.failed {
                #expect(failure.sop == contested && failure.failure == 0x0111, "process \(k): \(failure.message ?? "")")
            }
            #expect(run.status == (run.failed.isEmpty ? 0 : 22), "process \(k): \(stderr)")
            for item in run.referenced where item.sop == contested {
                let source = try #require(item.source)
                winners.append(try Data(contentsOf: URL(fileURLWithPath: source)))
            }
        }

        let rows = try scratch.indexRows()
        let (files, temporaries) = scratch.archiveFiles()
        #expect(Set(rows.keys) == Set(sources.keys), "every instance indexed once")
        #expect(files.count == sources.count, "one file per instance")
        #expect(Set(rows.values) == Set(files), "index and files agree")
        #expect(temporaries.isEmpty)
        #expect(scratch.journals().isEmpty)
        #expect(try scratch.integrityCheck() == "ok")
        for (sop, path) in rows where sop != contested {
            #expect(scratch.bytes(path) == sources[sop], "\(path) is its input")
        }
        // Whichever content won, every process that was told "stored" for the contested
        // instance gave that content.
        let contestedPath = try #require(rows[contested])
        let contestedBytes = try #require(scratch.bytes(contestedPath))
        #expect(!winners.isEmpty)
        #expect(winners.allSatisfy { $0 == contestedBytes })
        #expect(contestedBytes == sources[contested] || contestedBytes == FileManager.default.contents(atPath: conflicting))
        // And a later dwc index finds nothing to change.
        let index = try DwcProcess.run(["index", "-A", scratch.archive])
        #expect(index.stderr.contains("0 added, 0 updated, \(sources.count) unchanged, 0 removed"), "\(index.stderr)")
    }
}
