#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

namespace sluice::net {

namespace {

std::string openSslError() {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown TLS error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

// PgBouncer's tls_protocols words: a list of tlsv1.0 … tlsv1.3, or all / secure / legacy.
Status applyProtocols(SSL_CTX* ctx, const std::string& protocols) {
    int min = TLS1_2_VERSION, max = TLS1_3_VERSION;
    std::string words = protocols;
    for (char& c : words) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (words == "secure" || words.empty()) {
        min = TLS1_2_VERSION;
    } else if (words == "all" || words == "legacy") {
        min = TLS1_VERSION;
    } else {
        min = 0;
        max = 0;
        size_t start = 0;
        while (start <= words.size()) {
            size_t end = words.find_first_of(", ", start);
            std::string word = words.substr(start, end == std::string::npos ? std::string::npos : end - start);
            int version = 0;
            if (word == "tlsv1" || word == "tlsv1.0") version = TLS1_VERSION;
            else if (word == "tlsv1.1") version = TLS1_1_VERSION;
            else if (word == "tlsv1.2") version = TLS1_2_VERSION;
            else if (word == "tlsv1.3") version = TLS1_3_VERSION;
            else if (!word.empty())
                return Error{fmt::format("unknown TLS protocol '{}' (allowed: all, secure, legacy, tlsv1.0 … tlsv1.3)",
                                         word)};
            if (version) {
                min = min ? std::min(min, version) : version;
                max = std::max(max, version);
            }
            if (end == std::string::npos) break;
            start = end + 1;
        }
    }
    if (!SSL_CTX_set_min_proto_version(ctx, min) || !SSL_CTX_set_max_proto_version(ctx, max))
        return Error{"cannot set TLS protocol versions: " + openSslError()};
    return okStatus();
}

// PostgreSQL 17's direct TLS negotiation requires ALPN "postgresql"; offered and accepted here.
const unsigned char kAlpn[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};

int selectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
               void*) {
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kAlpn, sizeof kAlpn, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;  // a client without ALPN (SSLRequest path) is fine
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::create(const Options& options) {
    SSL_CTX* ctx = SSL_CTX_new(options.server ? TLS_server_method() : TLS_client_method());
    if (!ctx) return Error{"cannot create a TLS context: " + openSslError()};
    std::shared_ptr<TlsContext> context(new TlsContext(ctx, options.server));
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (auto status = applyProtocols(ctx, options.protocols); !status) return status.error();
    const std::string ciphers = options.ciphers == "default" || options.ciphers.empty()
                                    ? "HIGH:!aNULL:!MD5:!RC4"
                                    : options.ciphers == "fast" ? "HIGH:!aNULL" : options.ciphers;
    if (!SSL_CTX_set_cipher_list(ctx, ciphers.c_str()))
        return Error{fmt::format("failed to set ciphers ('{}'): {}", options.ciphers, openSslError())};
    if (!options.tls13Ciphers.empty() && !SSL_CTX_set_ciphersuites(ctx, options.tls13Ciphers.c_str()))
        return Error{fmt::format("failed to set the TLSv1.3 cipher suites ('{}'): {}", options.tls13Ciphers,
                                 openSslError())};
    if (!options.ecdhCurve.empty() && options.ecdhCurve != "auto" &&
        !SSL_CTX_set1_groups_list(ctx, options.ecdhCurve.c_str()))
        return Error{fmt::format("invalid ECDH curve '{}': {}", options.ecdhCurve, openSslError())};
    if (options.server) SSL_CTX_set_dh_auto(ctx, 1);
    if (!options.certFile.empty() &&
        SSL_CTX_use_certificate_chain_file(ctx, options.certFile.c_str()) != 1)
        return Error{fmt::format("cannot load TLS certificate {}: {}", options.certFile, openSslError())};
    if (!options.keyFile.empty()) {
        if (SSL_CTX_use_PrivateKey_file(ctx, options.keyFile.c_str(), SSL_FILETYPE_PEM) != 1)
            return Error{fmt::format("cannot load TLS key {}: {}", options.keyFile, openSslError())};
        if (SSL_CTX_check_private_key(ctx) != 1)
            return Error{fmt::format("TLS key {} does not match certificate {}", options.keyFile, options.certFile)};
    }
    if (options.server && (options.certFile.empty() || options.keyFile.empty()))
        return Error{"TLS for clients needs client_tls_key_file and client_tls_cert_file"};
    if (!options.caFile.empty() && SSL_CTX_load_verify_locations(ctx, options.caFile.c_str(), nullptr) != 1)
        return Error{fmt::format("cannot load TLS CA file {}: {}", options.caFile, openSslError())};
    if (options.verifyPeer) {
        if (options.caFile.empty() && options.server)
            return Error{"client_tls_sslmode verify-ca/verify-full needs client_tls_ca_file"};
        // As PgBouncer: a server's certificate is checked against the system's trusted CAs when
        // no server_tls_ca_file is given (a managed PostgreSQL with a publicly signed certificate).
        if (options.caFile.empty() && SSL_CTX_set_default_verify_paths(ctx) != 1)
            return Error{"cannot load the system's trusted CA certificates: " + openSslError()};
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (options.server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), nullptr);
    } else if (options.server && !options.caFile.empty()) {
        // A CA but no demand: verify a certificate when the client sends one (auth_type=cert).
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    }
    if (options.server) SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
    return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

TlsSession::TlsSession(std::shared_ptr<const TlsContext> context, const std::string& hostname, bool verifyHost)
    : context_(std::move(context)) {
    ssl_ = SSL_new(context_->get());
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_, in_, out_);  // the SSL owns both BIOs from here
    if (context_->isServer()) {
        SSL_set_accept_state(ssl_);
    } else {
        SSL_set_connect_state(ssl_);
        SSL_set_alpn_protos(ssl_, kAlpn, sizeof kAlpn);
        if (!hostname.empty() && hostname[0] != '/') {
            // An IP address is checked against the certificate's IP entries and never sent as
            // SNI (RFC 6066); a name is both.
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
            const bool isAddress = X509_VERIFY_PARAM_set1_ip_asc(param, hostname.c_str()) == 1;
            if (!isAddress) {
                SSL_set_tlsext_host_name(ssl_, hostname.c_str());
                if (verifyHost) SSL_set1_host(ssl_, hostname.c_str());
            } else if (!verifyHost) {
                X509_VERIFY_PARAM_set1_ip(param, nullptr, 0);
            }
        }
    }
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

void TlsSession::feed(const uint8_t* data, size_t size) {
    if (size) BIO_write(in_, data, static_cast<int>(size));
}

void TlsSession::fail(const std::string& what) {
    status_ = Status::Failed;
    error_ = what;
}

TlsSession::Status TlsSession::pump(IoBuffer& plaintext) {
    if (status_ == Status::Handshaking) {
        int rc = SSL_do_handshake(ssl_);
        if (rc != 1) {
            int err = SSL_get_error(ssl_, rc);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return status_;
            long verify = SSL_get_verify_result(ssl_);
            fail(verify != X509_V_OK ? fmt::format("certificate verification failed: {}",
                                                   X509_verify_cert_error_string(verify))
                                     : "TLS handshake failed: " + openSslError());
            return status_;
        }
        status_ = Status::Ready;
    }
    while (status_ == Status::Ready) {
        uint8_t* space = plaintext.reserve(16384);
        int n = SSL_read(ssl_, space, static_cast<int>(plaintext.writable()));
        if (n > 0) {
            plaintext.commit(static_cast<size_t>(n));
            continue;
        }
        int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
        if (err == SSL_ERROR_ZERO_RETURN) status_ = Status::Closed;
        else fail("TLS error: " + openSslError());
    }
    return status_;
}

void TlsSession::encrypt(const void* data, size_t size) {
    const char* bytes = static_cast<const char*>(data);
    while (size > 0 && status_ == Status::Ready) {
        int n = SSL_write(ssl_, bytes, static_cast<int>(std::min<size_t>(size, 1u << 30)));
        if (n <= 0) {
            fail("TLS write failed: " + openSslError());
            return;
        }
        bytes += n;
        size -= static_cast<size_t>(n);
    }
}

std::string TlsSession::takeOutput() {
    std::string out;
    char buf[16384];
    int n;
    while ((n = BIO_read(out_, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

void TlsSession::shutdown() {
    if (status_ == Status::Ready) SSL_shutdown(ssl_);
}

std::string TlsSession::describe() const {
    if (status_ != Status::Ready) return {};
    return fmt::format("{}/{}", SSL_get_version(ssl_), SSL_get_cipher_name(ssl_));
}

std::string TlsSession::peerCommonName() const {
    X509* cert = SSL_get_peer_certificate(ssl_);
    if (!cert) return {};
    if (SSL_get_verify_result(ssl_) != X509_V_OK) {
        X509_free(cert);
        return {};
    }
    char cn[256] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    X509_free(cert);
    return cn;
}

std::string TlsSession::serverEndPoint() const {
    X509* cert = SSL_get_certificate(ssl_);  // not owned
    if (!cert) return {};
    int digestNid = NID_undef;
    if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digestNid, nullptr)) return {};
    if (digestNid == NID_md5 || digestNid == NID_sha1) digestNid = NID_sha256;
    const EVP_MD* digest = EVP_get_digestbynid(digestNid);
    if (!digest) return {};
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!X509_digest(cert, digest, hash, &length)) return {};
    return std::string(reinterpret_cast<char*>(hash), length);
}

std::string TlsSession::alpn() const {
    const unsigned char* data = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_, &data, &len);
    return std::string(reinterpret_cast<const char*>(data), len);
}

}  // namespace sluice::net
