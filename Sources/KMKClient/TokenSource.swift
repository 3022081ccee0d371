import Foundation

/// Where the hub token comes from, first found wins: `--token-file`, the environment variable
/// `KMK_TOKEN`, then `<replica>.token` next to the replica. A token file readable by everyone
/// is refused.
public enum TokenSource {
    public static func token(file: String?, environment: [String: String], replicaPath: String) throws -> String {
        if let file { return try read(file) }
        if let env = environment["KMK_TOKEN"], !env.isEmpty { return env.trimmingCharacters(in: .whitespacesAndNewlines) }
        let sidecar = replicaPath + ".token"
        if FileManager.default.fileExists(atPath: sidecar) { return try read(sidecar) }
        throw ClientError(.notConfigured, "no hub token: pass --token-file FILE, set KMK_TOKEN, or put it in \(sidecar) "
            + "(chmod 600). Get one from the hub's operator (kmk-sync hub token create)")
    }

    static func read(_ path: String) throws -> String {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw ClientError(.notConfigured, "cannot read the token file \(path); check the path")
        }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        guard mode & 0o004 == 0 else {
            throw ClientError(.unauthorized, "the token file \(path) is readable by everyone (mode \(String(mode, radix: 8))); "
                + "make it private with: chmod 600 \(path)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ClientError(.unauthorized, "cannot read the token file \(path); check its owner and mode")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw ClientError(.notConfigured, "the token file \(path) is empty") }
        return token
    }
}
