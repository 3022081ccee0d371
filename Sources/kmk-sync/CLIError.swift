import Foundation
import ArgumentParser
import KMKClient
import KMKModel
import KMKReplica
import KMKSync

/// The exit codes kmk-sync uses (sysexits). They are part of the contract: see SPEC.md.
enum Exit {
    static let ok: Int32 = 0
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let noInput: Int32 = 66
    static let unavailable: Int32 = 69
    static let software: Int32 = 70
    static let cannotCreate: Int32 = 73
    static let tempFail: Int32 = 75
    static let noPermission: Int32 = 77

    /// The `--help` text that lists them.
    static let help = """
        Exit codes: 0 ok, 64 usage, 65 bad data (invalid value, bad import file, corrupt or foreign replica file), \
        66 no such replica/record/input, 69 hub unavailable, 70 internal error, 73 cannot create, \
        75 temporary failure (locked, retry later), 77 permission denied.
        """

    /// The message and exit code for an error a command threw, or nil to let ArgumentParser report it.
    static func classify(_ error: any Error) -> (message: String, code: Int32)? {
        switch error {
        case let e as ReplicaError:
            let code: Int32
            switch e.kind {
            case .notFound: code = noInput
            case .badFile, .invalidData, .refused: code = dataError
            case .busy: code = tempFail
            case .cannotCreate: code = cannotCreate
            case .permission: code = noPermission
            case .internalError: code = software
            }
            return (e.message, code)
        case let e as ModelError:
            switch e.kind {
            case .unknownEntity, .unknownField: return (e.message, usage)
            default: return (e.message, dataError)
            }
        case let e as SyncError:
            return (e.message, dataError)
        case let e as ClockError:
            return (e.description, dataError)
        case let e as ClientError:
            switch e.kind {
            case .unavailable, .protocolError: return (e.message, unavailable)
            case .unauthorized, .forbidden: return (e.message, noPermission)
            case .locked: return (e.message, tempFail)
            case .notConfigured: return (e.message, usage)
            case .refused: return (e.message, dataError)
            }
        case let e as WireError:
            let text = "the hub refused (HTTP \(e.status) \(e.code)): \(e.message)"
            switch e.status {
            case 401, 403: return (text, noPermission)
            case 400, 409, 410, 413, 415, 422: return (text, dataError)
            default: return (text, unavailable)
            }
        case let e as CLIFailure:
            return (e.message, e.code)
        default:
            return nil
        }
    }
}

/// A failure found by the command line itself (a missing file, a bad argument form).
struct CLIFailure: Error {
    let message: String
    let code: Int32

    static func usage(_ message: String) -> CLIFailure { CLIFailure(message: message, code: Exit.usage) }
    static func noInput(_ message: String) -> CLIFailure { CLIFailure(message: message, code: Exit.noInput) }
}
