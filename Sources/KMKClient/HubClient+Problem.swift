import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension HubClient {
    /// Why one attempt got no answer, in the words URLSession (libcurl) used for the same
    /// failures; they end up in "the hub at URL is unavailable after N attempts (…)".
    static func problem(_ error: any Error, url: URL) -> String {
        let host = url.host ?? ""
        let port = url.port ?? (url.scheme == "https" ? 443 : 80)
        switch error {
        case let e as NIOConnectionError:
            if e.dnsAError != nil || e.dnsAAAAError != nil { return "Could not resolve host: \(host)" }
            return e.connectionErrors.first.map { problem($0.error, url: url) } ?? "Failed to connect to \(host) port \(port)"
        case let e as IOError:
            switch e.errnoCode {
            case ECONNREFUSED: return "Failed to connect to \(host) port \(port): Connection refused"
            case EHOSTUNREACH, ENETUNREACH: return "Failed to connect to \(host) port \(port): No route to host"
            case ECONNRESET, EPIPE: return "Connection reset by peer"
            case ETIMEDOUT: return "The request timed out."
            default: return "\(e)"
            }
        case ChannelError.connectTimeout:
            return "Failed to connect to \(host) port \(port): the connection timed out"
        case ChannelError.ioOnClosedChannel, ChannelError.outputClosed, ChannelError.eof:
            return "The network connection was lost."
        case let e as HTTPClientError:
            switch e {
            case .connectTimeout:
                return "Failed to connect to \(host) port \(port): the connection timed out"
            case .readTimeout, .writeTimeout, .deadlineExceeded, .getConnectionFromPoolTimeout:
                return "The request timed out."
            case .remoteConnectionClosed:
                return "The network connection was lost."
            default:
                return "\(e)"
            }
        default:
            return "\(error)"
        }
    }
}
