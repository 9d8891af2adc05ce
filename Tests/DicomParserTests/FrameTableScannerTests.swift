import DicomCore
import DicomDeflate
import Foundation
import Testing
@testable import DicomParser

/// The streaming scan must build exactly the table of FrameLocator's random-access scan, or fail
/// where it fails, whatever the chunking of the stream.
@Suite struct FrameTableScannerTests {
    static let chunkSizes = [1, 7, 4096, Int.max]

    enum Outcome: Equatable {
        case spans([FrameSpan])
        case failed(String)
    }

    /// The random-access scan of a file (parsed up to its pixel data).
    static func locatorScan(_ file: DicomFile) -> Outcome {
        do {
            let location = try #require(try file.pixelDataLocation())
            let layout = try FrameLocator.scan(file: file, location: location, frameCount: frameCount(file))
            return .spans(layout.spans ?? [])
        } catch let error as DicomParserError {
            return .failed(error.message)
        } catch {
            return .failed("\(error)")
        }
    }

    /// The streaming scan of the same file, the bytes from the first fragment on cut into
    /// `chunk`-sized pieces (the last chunk may be shorter).
    static func streamingScan(_ file: DicomFile, chunk: Int) -> Outcome {
        do {
            let location = try #require(try file.pixelDataLocation())
            var scanner = try FrameTableScanner(location: location, frameCount: frameCount(file),
                                                sourceSize: file.source.size, sourceName: file.source.name)
            let stream = try file.source.read(offset: scanner.startOffset, length: Int(file.source.size - min(file.source.size, scanner.startOffset)))
            var at = 0
            while at < stream.count {
                let piece = Array(stream[at..<(at + min(chunk, stream.count - at))])
                at += piece.count
                if try scanner.consume(piece) { break }
            }
            let layout = try scanner.finish()
            #expect(layout.origin == "scan")
            return .spans(layout.spans ?? [])
        } catch let error as DicomParserError {
            return .failed(error.message)
        } catch {
            return .failed("\(error)")
        }
    }

    static func frameCount(_ file: DicomFile) -> Int { file.dataSet.int(.numberOfFrames).map { max(1, $0) } ?? 1 }

    static func expectSameTable(_ bytes: [UInt8], _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let file = try read(bytes, stopBefore: .pixelData)
        let expected = locatorScan(file)
        for chunk in chunkSizes {
            #expect(streamingScan(file, chunk: chunk) == expected, "chunk \(chunk) \(comment?.description ?? "")", sourceLocation: sourceLocation)
        }
    }

    let builder = FrameLocatorTests()

    @Test func oneFragmentPerFrame() throws {
        let frames = (0..<6).map { [builder.codestream(UInt8($0), length: 10 + 37 * $0)] }
        try Self.expectSameTable(builder.encapsulatedFile(frames: frames))
        guard case .spans(let spans) = Self.locatorScan(try read(builder.encapsulatedFile(frames: frames), stopBefore: .pixelData)) else {
            Issue.record("the fixture must scan"); return
        }
        #expect(spans.count == 6)
    }

    @Test func severalFragmentsPerFrameGroupedByJPEGAndJPEG2000Starts() throws {
        let a = builder.codestream(1, length: 40), b = builder.codestream(2, length: 22)
        try Self.expectSameTable(builder.encapsulatedFile(frames: [[Array(a[0..<10]), Array(a[10..<24]), Array(a[24...])], [Array(b[0..<12]), Array(b[12...])]]))
        // JPEG 2000 codestreams (SOC SIZ) and JP2 files (signature box), fragments of 1-3 bytes
        // (shorter than the 4 bytes looked at) and empty fragments between them.
        let j2k: [UInt8] = [0xFF, 0x4F, 0xFF, 0x51] + [UInt8](repeating: 5, count: 30)
        let jp2: [UInt8] = [0x00, 0x00, 0x00, 0x0C] + [UInt8](repeating: 6, count: 20)
        try Self.expectSameTable(builder.encapsulatedFile(frames: [[j2k, [], [1, 2]], [jp2, [3]], [j2k, [], [7, 7, 7, 7]]]))
    }

    @Test func tablesOfTheOffsetTableCasesAgree() throws {
        let frames = [[builder.codestream(1, length: 10)], [builder.codestream(2, length: 14)]]
        for bot: [UInt32] in [[], [0, 18], [0, 1_000_000]] {
            try Self.expectSameTable(builder.encapsulatedFile(frames: frames, bot: bot), "\(bot)")
        }
    }

    @Test func endsWithoutDelimiterOrWithBytesAfterIt() throws {
        let good = builder.encapsulatedFile(frames: [[builder.codestream(1, length: 10)], [builder.codestream(2, length: 12)]])
        try Self.expectSameTable(Array(good.dropLast(8)), "no delimiter")
        try Self.expectSameTable(Array(good.dropLast(3)), "a partial delimiter")
        try Self.expectSameTable(good + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "data after the delimiter")
    }

    @Test func malformedStreamsFailLikeTheRandomAccessScan() throws {
        let frames = [[builder.codestream(1, length: 10)], [builder.codestream(2, length: 12)]]
        let good = builder.encapsulatedFile(frames: frames)
        let firstItem = good.count - 8 - (8 + 10) - (8 + 12)
        var longItem = good
        longItem.replaceSubrange((firstItem + 4)..<(firstItem + 8), with: le32(1_000_000))
        var notAnItem = good
        notAnItem.replaceSubrange((firstItem + 18)..<(firstItem + 22), with: [0x08, 0x00, 0x18, 0x00])
        var undefined = good
        undefined.replaceSubrange((firstItem + 4)..<(firstItem + 8), with: [0xFF, 0xFF, 0xFF, 0xFF])
        let cases: [(String, [UInt8])] = [
            ("fragment past the end", longItem), ("not an item", notAnItem), ("undefined length fragment", undefined),
            ("cut inside a fragment", Array(good.prefix(firstItem + 8 + 5))),
            ("cut inside the second header", Array(good.prefix(firstItem + 18 + 5))),
            ("no fragments", Array(good.prefix(firstItem))),
            ("three fragments, two frames, one start", builder.encapsulatedFile(frames: [[Array(frames[0][0][0..<6]), Array(frames[0][0][6...])], [[1, 2, 3, 4]]])),
        ]
        for (name, bytes) in cases {
            let file = try read(bytes, stopBefore: .pixelData)
            let expected = Self.locatorScan(file)
            for chunk in Self.chunkSizes {
                #expect(Self.streamingScan(file, chunk: chunk) == expected, "\(name), chunk \(chunk)")
            }
        }
        // The cases above must include failures, or they test nothing.
        #expect(Self.locatorScan(try read(longItem, stopBefore: .pixelData)) != .spans([]))
        if case .spans = Self.locatorScan(try read(notAnItem, stopBefore: .pixelData)) { Issue.record("a non-item tag was accepted") }
    }

    /// Damaged copies of a file — bytes changed or cut anywhere in the pixel data — give the same
    /// table or the same error as the random-access scan, never a trap.
    @Test func randomDamageAgreesWithTheRandomAccessScan() throws {
        let a = builder.codestream(1, length: 60), b = builder.codestream(2, length: 30), c = builder.codestream(3, length: 44)
        let good = builder.encapsulatedFile(frames: [[Array(a[0..<20]), Array(a[20...])], [b], [Array(c[0..<4]), [], Array(c[4...])]])
        let pixelStart = good.count - (8 + 20 + 8 + 40 + 8 + 30 + 8 + 4 + 8 + 8 + 40 + 8) - 8
        var state: UInt64 = 0x5EED
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var failures = 0
        for round in 0..<400 {
            var bytes = good
            if round % 3 == 0 {
                bytes = Array(bytes.prefix(pixelStart + next() % (bytes.count - pixelStart)))
            } else {
                for _ in 0..<(1 + next() % 3) {
                    bytes[pixelStart + next() % (bytes.count - pixelStart)] = [0x00, 0xFF, 0xFE, 0xE0, 0xDD, 0xD8, UInt8(truncatingIfNeeded: next())][next() % 7]
                }
            }
            guard let file = try? read(bytes, stopBefore: .pixelData), (try? file.pixelDataLocation()) != nil else { continue }
            let expected = Self.locatorScan(file)
            if case .failed = expected { failures += 1 }
            for chunk in [1, 7, Int.max] {
                #expect(Self.streamingScan(file, chunk: chunk) == expected, "round \(round), chunk \(chunk)")
            }
        }
        #expect(failures > 20, "the damage must produce failures too")
    }

    @Test func aStreamThatStopsEarlyIsAnErrorNamingWhere() throws {
        let good = builder.encapsulatedFile(frames: [[builder.codestream(1, length: 100)], [builder.codestream(2, length: 100)]])
        let file = try read(good, stopBefore: .pixelData)
        let location = try #require(try file.pixelDataLocation())
        var scanner = try FrameTableScanner(location: location, frameCount: 2, sourceSize: file.source.size, sourceName: "https://h/x.dcm")
        let stream = try file.source.read(offset: scanner.startOffset, length: 150)
        #expect(try scanner.consume(stream) == false)
        do {
            _ = try scanner.finish()
            Issue.record("a short stream gave a table")
        } catch let error as DicomParserError {
            #expect(error.description.contains("https://h/x.dcm"))
            #expect(error.message.contains("ended at offset \(scanner.startOffset + 150)"))
        }
    }

    @Test func stopsAskingAtTheDelimiter() throws {
        let good = builder.encapsulatedFile(frames: [[builder.codestream(1, length: 10)]]) + [UInt8](repeating: 0xAB, count: 100)
        let file = try read(good, stopBefore: .pixelData)
        var scanner = try FrameTableScanner(location: try #require(try file.pixelDataLocation()), frameCount: 1,
                                            sourceSize: file.source.size, sourceName: "x")
        let stream = try file.source.read(offset: scanner.startOffset, length: 8 + 10 + 8)
        #expect(try scanner.consume(stream) == true)
        #expect(scanner.isComplete)
        #expect(try scanner.finish().spans == [FrameSpan(offset: scanner.startOffset, length: 18)])
    }

    /// Every encapsulated file among pydicom's test files (real vendors' fragmentation).
    @Test func pydicomEncapsulatedFiles() throws {
        let directory = try Self.pydicomTestFiles()
        var scanned = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            let path = directory + "/" + name
            guard let source = try? FileByteSource(path: path),
                  let file = try? DicomReader(options: ParseOptions(stopBefore: .pixelData, deflate: ZlibDeflateCodec())).read(from: source),
                  let location = try? file.pixelDataLocation(), location.isEncapsulated else { continue }
            scanned += 1
            let expected = Self.locatorScan(file)
            for chunk in Self.chunkSizes {
                #expect(Self.streamingScan(file, chunk: chunk) == expected, "\(name), chunk \(chunk)")
            }
        }
        #expect(scanned >= 20, "found only \(scanned) encapsulated pydicom test files")
    }

    static func pydicomTestFiles() throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import os, pydicom; print(os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files'))"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(process.terminationStatus == 0 && !path.isEmpty, "pydicom must be installed (Scripts/bootstrap)")
        return path
    }
}
