// A doubly linked list threaded through its elements (PgBouncer's idea, DESIGN §7): a connection's
// state is the list it sits on, so a state change is an O(1) unlink + link and counts are list sizes.
#pragma once

#include <cstddef>

namespace sluice {

// An element inherits one hook per kind of list it can be on, each a distinct type derived from
// ListHook (`struct SweepHook : ListHook {};`), and the list finds the element from its hook
// with a cast: no pointer back to the element in every hook.
struct ListHook {
    ListHook* prev = nullptr;
    ListHook* next = nullptr;
    void* list = nullptr;  // the IntrusiveList this hook is on, if any
    bool linked() const { return list != nullptr; }
};

template <class T, class Hook>
class IntrusiveList {
public:
    IntrusiveList() { head_.prev = head_.next = &head_; }
    IntrusiveList(const IntrusiveList&) = delete;
    IntrusiveList& operator=(const IntrusiveList&) = delete;

    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    bool contains(const T& item) const { return hookOf(item).list == this; }

    void pushBack(T& item) { insertBefore(&head_, item); }
    void pushFront(T& item) { insertBefore(head_.next, item); }

    T* front() const { return empty() ? nullptr : owner(head_.next); }
    T* back() const { return empty() ? nullptr : owner(head_.prev); }

    T* popFront() {
        T* item = front();
        if (item) remove(*item);
        return item;
    }

    void remove(T& item) {
        ListHook& h = hookOf(item);
        if (h.list != this) return;
        h.prev->next = h.next;
        h.next->prev = h.prev;
        h.prev = h.next = nullptr;
        h.list = nullptr;
        --size_;
    }

    // Calls fn on each element; fn may remove the element it is given (and only that one).
    template <class Fn>
    void forEach(Fn&& fn) {
        for (ListHook* h = head_.next; h != &head_;) {
            ListHook* next = h->next;
            fn(*owner(h));
            h = next;
        }
    }

    template <class Fn>
    void forEach(Fn&& fn) const {
        for (const ListHook* h = head_.next; h != &head_; h = h->next) fn(*owner(h));
    }

private:
    // Never called with head_, the only hook that is not an element's.
    static T* owner(ListHook* h) { return static_cast<T*>(static_cast<Hook*>(h)); }
    static const T* owner(const ListHook* h) { return static_cast<const T*>(static_cast<const Hook*>(h)); }
    static ListHook& hookOf(T& item) { return static_cast<Hook&>(item); }
    static const ListHook& hookOf(const T& item) { return static_cast<const Hook&>(item); }

    void insertBefore(ListHook* pos, T& item) {
        ListHook& h = hookOf(item);
        if (h.list) static_cast<IntrusiveList*>(h.list)->remove(item);
        h.prev = pos->prev;
        h.next = pos;
        pos->prev->next = &h;
        pos->prev = &h;
        h.list = this;
        ++size_;
    }

    ListHook head_;
    size_t size_ = 0;
};

}  // namespace sluice
