// How one worker's connections reach another worker (DESIGN §3): a task posted to its loop,
// run there on its thread. The Server implements it; conn/ never includes server/.
#pragma once

#include <functional>

namespace sluice::conn {

class Connections;

class WorkerMesh {
public:
    virtual ~WorkerMesh() = default;
    virtual int workerCount() const = 0;
    virtual void postToWorker(int worker, std::function<void(Connections&)> task) = 0;
};

}  // namespace sluice::conn
