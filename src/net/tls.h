// TLS over memory BIOs (DESIGN §4, net/): the Socket feeds ciphertext in and takes ciphertext out,
// so TLS works on any libuv stream and never blocks. A TlsContext is built from the settings at
// load and reload (new certificate files take effect for new connections).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "net/io_buffer.h"
#include "util/result.h"

namespace sluice::net {

class TlsContext {
public:
    struct Options {
        bool server = true;              // accepting (clients of the pooler) or connecting (to PostgreSQL)
        std::string keyFile, certFile;   // required for a server; optional client certificate
        std::string caFile;              // trusted roots for verifying the peer
        std::string protocols = "secure";  // PgBouncer's words: secure, all, legacy, tlsv1.2, tlsv1.3 …
        std::string ciphers = "default";
        std::string tls13Ciphers;
        std::string ecdhCurve = "auto";
        std::string dheParams = "auto";
        bool verifyPeer = false;         // a server: demand a client certificate; a client: check the server's
    };
    static Result<std::shared_ptr<TlsContext>> create(const Options& options);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    SSL_CTX* get() const { return ctx_; }
    bool isServer() const { return server_; }

private:
    TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
    SSL_CTX* ctx_;
    bool server_;
};

class TlsSession {
public:
    enum class Status { Handshaking, Ready, Failed, Closed };

    // hostname (connecting side): sent as SNI, and checked against the certificate when verifyHost.
    TlsSession(std::shared_ptr<const TlsContext> context, const std::string& hostname = "", bool verifyHost = false);
    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;

    // Ciphertext from the peer.
    void feed(const uint8_t* data, size_t size);
    // Where the socket reads records into before it feeds them (kept here, not in every
    // plaintext socket).
    IoBuffer& records() { return records_; }
    // Advances the handshake, then decrypts what it can into `plaintext`.
    Status pump(IoBuffer& plaintext);
    // Encrypts; the ciphertext waits in takeOutput().
    void encrypt(const void* data, size_t size);
    // Ciphertext to send to the peer (handshake records, application data, close_notify).
    std::string takeOutput();
    void shutdown();

    bool ready() const { return status_ == Status::Ready; }
    const std::string& error() const { return error_; }
    // "TLSv1.3/TLS_AES_256_GCM_SHA384" for logs and SHOW CLIENTS' tls column.
    std::string describe() const;
    // The peer certificate's subject CN; "" when it sent none or it did not verify.
    std::string peerCommonName() const;
    // The ALPN protocol the peer and we agreed on ("" when none).
    std::string alpn() const;
    // tls-server-end-point channel binding data (RFC 5929): the hash of our own certificate
    // (accepting side), with SHA-256 where its signature uses MD5 or SHA-1; "" without one.
    std::string serverEndPoint() const;

private:
    void fail(const std::string& what);

    std::shared_ptr<const TlsContext> context_;
    SSL* ssl_ = nullptr;
    BIO* in_ = nullptr;   // network → OpenSSL
    BIO* out_ = nullptr;  // OpenSSL → network
    Status status_ = Status::Handshaking;
    std::string error_;
    IoBuffer records_;
};

}  // namespace sluice::net
