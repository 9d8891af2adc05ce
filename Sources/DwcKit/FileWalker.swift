#if canImport(Glibc)
import Glibc
#endif

/// Lists regular files under paths (recursively, hidden entries skipped, sorted for
/// deterministic order). Symlinks are not followed.
public enum FileWalker {
    public static func regularFiles(under paths: [String]) -> [String] {
        var result: [String] = []
        for path in paths { walk(path, into: &result) }
        return result
    }

    private static func walk(_ path: String, into result: inout [String]) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            result.append(path)
        case S_IFDIR:
            guard let dir = opendir(path) else { return }
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name.hasPrefix(".") { continue }
                names.append(name)
            }
            closedir(dir)
            for name in names.sorted() { walk(path.hasSuffix("/") ? path + name : path + "/" + name, into: &result) }
        default:
            break
        }
    }
}
