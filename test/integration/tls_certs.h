// Certificates for TLS tests, made by the openssl command line into a directory: a CA, a server
// certificate for localhost / 127.0.0.1 and a client certificate, all signed by that CA.
#pragma once

#include <string>

namespace sluice::itest {

struct TestCertificates {
    std::string caCert;
    std::string serverCert, serverKey;
    std::string clientCert, clientKey;  // key mode 0600, as libpq demands
};

// Throws std::runtime_error (with openssl's output) when a step fails. `tag` names the files
// (so several sets can share a directory) and goes into the CA's name.
TestCertificates makeCertificates(const std::string& dir, const std::string& clientCommonName,
                                  const std::string& tag = "a");

}  // namespace sluice::itest
