import Foundation
import KMKModel
import KMKTestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fault-injecting TCP proxy on 127.0.0.1, between `kmk-sync` and a hub (issue 6, network
/// faults). Each accepted connection gets one fault, drawn from a seeded generator in accept
/// order:
///
/// - `pass`: bytes flow both ways untouched (keep-alive: many requests on one connection);
/// - `delay`: the same after a pause of up to `maxDelayMillis`;
/// - `resetRequest`: the request's head and part of its body reach the hub, then both sides are
///   reset (`SO_LINGER` 0);
/// - `resetResponse`: the whole request reaches the hub, part of the response body reaches the
///   client, then both sides are reset;
/// - `truncateResponse`: the same, but the client side is closed cleanly (FIN) mid-body;
/// - `error500`, `error503`: the proxy answers itself (500 with an HTML page, 503 with a JSON
///   `busy` error) after reading the request; nothing reaches the hub.
///
/// One thread per connection (two for `pass` and `delay`); every socket has a receive timeout,
/// and ``stop()`` shuts down every open socket, so no thread outlives the test by long.
final class FaultProxy: @unchecked Sendable {
    // @unchecked: the mutable state (generator, counts, open sockets, stopped) is only touched
    // under `lock`; the sockets themselves are owned by one connection's threads at a time.
    enum Fault: String, CaseIterable, Sendable {
        case pass, delay, resetRequest, resetResponse, truncateResponse, error500, error503
    }

    let port: UInt16
    var url: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let upstreamPort: UInt16
    private let weights: [(Fault, Int)]
    private let maxDelayMillis: Int
    private let lock = NSLock()
    private var random: SplitMix64
    private var counts: [Fault: Int] = [:]
    private var open: Set<Int32> = []
    private var stopped = false
    private let done = DispatchGroup()

    /// Listens on an ephemeral loopback port and forwards to `upstream` (`http://127.0.0.1:PORT`).
    /// `weights` gives each fault's share; by default about half the connections are faulty.
    init(upstream: String, seed: UInt64, weights: [(Fault, Int)] = FaultProxy.defaultWeights, maxDelayMillis: Int = 250) throws {
        guard let port = URL(string: upstream)?.port, let p = UInt16(exactly: port) else {
            throw LoopbackSocket.Failure("cannot read the port of \(upstream)")
        }
        upstreamPort = p
        random = SplitMix64(seed: seed)
        self.weights = weights
        self.maxDelayMillis = maxDelayMillis
        (listener, self.port) = try LoopbackSocket.listenEphemeral()
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "fault-proxy-accept"
        done.enter()
        thread.start()
    }

    static let defaultWeights: [(Fault, Int)] = [
        (.pass, 40), (.delay, 10), (.resetRequest, 12), (.resetResponse, 12), (.truncateResponse, 12),
        (.error500, 7), (.error503, 7),
    ]

    /// How many connections got each fault so far.
    var injected: [Fault: Int] { lock.withLock { counts } }

    /// Stops accepting, shuts down every open connection and waits (at most 10 s) for the threads.
    func stop() {
        let fds: Set<Int32> = lock.withLock {
            stopped = true
            return open
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        _ = done.wait(timeout: .now() + 10)
        close(listener)
    }

    deinit { if !stopped { stop() } }

    // MARK: - Connections

    /// One connection's plan, drawn under the lock so the sequence depends on the seed alone.
    private struct Plan {
        let fault: Fault
        /// Where to cut, as a share of the body (or of the head when there is no body).
        let cut: Double
        let delayMillis: Int
    }

    private func draw() -> Plan {
        lock.withLock {
            let total = weights.reduce(0) { $0 + $1.1 }
            var pick = Int.random(in: 0..<total, using: &random)
            var fault = Fault.pass
            for (f, w) in weights {
                if pick < w { fault = f; break }
                pick -= w
            }
            counts[fault, default: 0] += 1
            return Plan(fault: fault, cut: Double.random(in: 0..<1, using: &random),
                        delayMillis: Int.random(in: 1...max(1, maxDelayMillis), using: &random))
        }
    }

    private func acceptLoop() {
        defer { done.leave() }
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let admitted: Bool = lock.withLock {
                if stopped { return false }
                open.insert(fd)
                return true
            }
            guard admitted else { close(fd); return }
            LoopbackSocket.configure(fd)
            let plan = draw()
            done.enter()
            let thread = Thread { [self] in
                defer { done.leave() }
                serve(client: fd, plan)
            }
            thread.name = "fault-proxy-\(plan.fault.rawValue)"
            thread.start()
        }
    }

    /// Opens the upstream connection, registered for ``stop()``.
    private func connectUpstream() -> Int32? {
        guard let fd = LoopbackSocket.connectLoopback(port: upstreamPort) else { return nil }
        let admitted: Bool = lock.withLock {
            if stopped { return false }
            open.insert(fd)
            return true
        }
        guard admitted else { close(fd); return nil }
        return fd
    }

    /// Closes sockets, abortively (RST) when `reset`; forgets them under the lock first so
    /// ``stop()`` never touches a number the kernel has handed out again.
    private func finish(_ fds: [Int32], reset: Bool) {
        lock.withLock {
            for fd in fds where fd >= 0 {
                open.remove(fd)
                if reset { LoopbackSocket.setLingerZero(fd) }
                close(fd)
            }
        }
    }

    private func serve(client: Int32, _ plan: Plan) {
        switch plan.fault {
        case .pass, .delay:
            if plan.fault == .delay { usleep(UInt32(plan.delayMillis) * 1_000) }
            guard let hub = connectUpstream() else { return finish([client], reset: true) }
            relay(client: client, hub: hub)
            finish([client, hub], reset: false)
        case .error500, .error503:
            _ = LoopbackSocket.readMessage(client)
            let (status, type, body) = plan.fault == .error500
                ? ("500 Internal Server Error", "text/html", "<html><body><h1>500</h1>proxy says no</body></html>")
                : ("503 Service Unavailable", "application/json",
                   "{\"error\":\"busy\",\"message\":\"the fault proxy is busy; retry later\"}")
            let head = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n"
            _ = LoopbackSocket.sendAll(client, Array((head + body).utf8))
            shutdown(client, Int32(SHUT_WR))
            finish([client], reset: false)
        case .resetRequest:
            guard let request = LoopbackSocket.readMessage(client), let hub = connectUpstream() else {
                return finish([client], reset: true)
            }
            _ = LoopbackSocket.sendAll(hub, Array(request.bytes[..<request.cut(at: plan.cut)]))
            usleep(2_000)
            finish([client, hub], reset: true)
        case .resetResponse, .truncateResponse:
            guard let request = LoopbackSocket.readMessage(client), let hub = connectUpstream() else {
                return finish([client], reset: true)
            }
            guard LoopbackSocket.sendAll(hub, request.bytes), let response = LoopbackSocket.readMessage(hub) else {
                return finish([client, hub], reset: true)
            }
            _ = LoopbackSocket.sendAll(client, Array(response.bytes[..<response.cut(at: plan.cut)]))
            if plan.fault == .truncateResponse {
                shutdown(client, Int32(SHUT_WR))
                usleep(2_000)
                finish([client], reset: false)
                finish([hub], reset: true)
            } else {
                finish([client, hub], reset: true)
            }
        }
    }

    /// Copies bytes both ways until either side closes.
    private func relay(client: Int32, hub: Int32) {
        let upward = DispatchSemaphore(value: 0)
        let thread = Thread {
            LoopbackSocket.pump(from: client, to: hub)
            upward.signal()
        }
        thread.start()
        LoopbackSocket.pump(from: hub, to: client)
        shutdown(client, Int32(SHUT_RDWR))
        shutdown(hub, Int32(SHUT_RDWR))
        upward.wait()
    }
}

/// Blocking POSIX sockets on 127.0.0.1, for the fault proxy and the hub fuzzer.
enum LoopbackSocket {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Every receive gives up after this long, so no thread waits forever.
    static let receiveTimeoutSeconds = 20

    static func address(port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    /// A listening socket on an ephemeral loopback port.
    static func listenEphemeral() throws -> (fd: Int32, port: UInt16) {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var a = address(port: 0)
        let bound = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw Failure("bind/listen on 127.0.0.1: errno \(errno)")
        }
        var got = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &got) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: got.sin_port))
    }

    /// A connected socket to 127.0.0.1:`port`, or nil.
    static func connectLoopback(port: UInt16) -> Int32? {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        var a = address(port: port)
        let ok = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else { close(fd); return nil }
        configure(fd)
        return fd
    }

    /// Receive timeout and no Nagle delay.
    static func configure(_ fd: Int32) {
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// The next `close` sends RST instead of FIN.
    static func setLingerZero(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
    }

    /// Writes everything (no SIGPIPE); false when the peer is gone.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    /// Reads what is available (at most 64 KiB); empty at end of stream, nil on an error or timeout.
    static func receive(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { return nil }
            return Array(buffer[..<n])
        }
    }

    static func pump(from: Int32, to: Int32) {
        while let chunk = receive(from), !chunk.isEmpty {
            guard sendAll(to, chunk) else { break }
        }
        shutdown(to, Int32(SHUT_WR))
    }

    /// One HTTP/1.1 message as read from a socket: its head, and its body when framed by
    /// Content-Length or chunked (a response with neither is read to the end of the stream, up
    /// to 16 MiB; a request with neither has no body).
    struct Message {
        var bytes: [UInt8]
        var headLength: Int
        var head: String { String(decoding: bytes[..<headLength], as: UTF8.self) }

        /// The status code of a response.
        var status: Int? {
            let parts = head.split(separator: " ", maxSplits: 2)
            return parts.count >= 2 ? Int(parts[1]) : nil
        }

        /// A header's value (the first, by case-insensitive name).
        func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }

        /// The body, de-chunked.
        var body: [UInt8] {
            var rest = Array(bytes[headLength...])
            guard header("transfer-encoding")?.lowercased() == "chunked" else { return rest }
            var out: [UInt8] = []
            while let end = rest.firstRange(of: [13, 10]) {
                let line = String(decoding: rest[..<end.lowerBound], as: UTF8.self)
                let size = Int(line.split(separator: ";").first.map(String.init) ?? "", radix: 16) ?? 0
                guard size > 0, rest.count >= end.upperBound + size + 2 else { break }
                out += rest[end.upperBound..<(end.upperBound + size)]
                rest = Array(rest[(end.upperBound + size + 2)...])
            }
            return out
        }

        /// A cut inside the body (or inside the head when the body is empty), at `share` of it.
        func cut(at share: Double) -> Int {
            let bodyLength = bytes.count - headLength
            if bodyLength > 0 { return headLength + min(bodyLength - 1, Int(Double(bodyLength) * share)) }
            return max(1, min(headLength - 1, Int(Double(headLength) * share)))
        }
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i + 4
        }
        return nil
    }

    static func contentLength(_ head: String) -> Int? {
        for line in head.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                return Int(parts[1].trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }

    /// Reads one message; nil when the stream ends or fails before its end.
    static func readMessage(_ fd: Int32, limit: Int = 16 << 20) -> Message? {
        var bytes: [UInt8] = []
        var headLength: Int?
        while headLength == nil {
            guard bytes.count < 1 << 20, let chunk = receive(fd), !chunk.isEmpty else { return nil }
            bytes += chunk
            headLength = headEnd(bytes)
        }
        let head = String(decoding: bytes[..<headLength!], as: UTF8.self)
        if let length = contentLength(head) {
            while bytes.count < headLength! + length {
                guard let chunk = receive(fd), !chunk.isEmpty else { return nil }
                bytes += chunk
            }
            return Message(bytes: Array(bytes[..<(headLength! + length)]), headLength: headLength!)
        }
        let isRequest = !head.hasPrefix("HTTP/")
        if isRequest { return Message(bytes: bytes, headLength: headLength!) }
        if head.lowercased().contains("transfer-encoding: chunked") {
            let last: [UInt8] = Array("0\r\n\r\n".utf8)
            while !(bytes.count - headLength! >= 5 && Array(bytes.suffix(5)) == last) {
                guard bytes.count < limit, let chunk = receive(fd), !chunk.isEmpty else { return nil }
                bytes += chunk
            }
            return Message(bytes: bytes, headLength: headLength!)
        }
        if head.hasPrefix("HTTP/1.1 204") || head.hasPrefix("HTTP/1.1 304") { return Message(bytes: bytes, headLength: headLength!) }
        while bytes.count < limit, let chunk = receive(fd), !chunk.isEmpty { bytes += chunk }
        return Message(bytes: bytes, headLength: headLength!)
    }
}
