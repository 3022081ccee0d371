import AsyncHTTPClient
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
    /// Why one attempt got no answer, in the words URLSession used for the same failures (they
    /// end up in "the hub at URL is unavailable after N attempts (…)").
    static func problem(_ error: any Error) -> String {
        switch error {
        case let e as NIOConnectionError:
            if e.dnsAError != nil || e.dnsAAAAError != nil { return "A server with the specified hostname could not be found." }
            return e.connectionErrors.first.map { problem($0.error) } ?? "Could not connect to the server."
        case let e as IOError:
            switch e.errnoCode {
            case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH: return "Could not connect to the server."
            case ECONNRESET, EPIPE: return "The network connection was lost."
            case ETIMEDOUT: return "The request timed out."
            default: return "\(e)"
            }
        case ChannelError.connectTimeout:
            return "The request timed out."
        case ChannelError.ioOnClosedChannel, ChannelError.outputClosed, ChannelError.eof:
            return "The network connection was lost."
        case let e as HTTPClientError:
            switch e {
            case .connectTimeout, .readTimeout, .writeTimeout, .deadlineExceeded, .getConnectionFromPoolTimeout:
                return "The request timed out."
            case .remoteConnectionClosed:
                return "The network connection was lost."
            case .cancelled:
                return "cancelled"
            default:
                return "\(e)"
            }
        default:
            return "\(error)"
        }
    }
}
