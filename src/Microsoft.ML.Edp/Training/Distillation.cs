using Microsoft.ML.Edp.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>Knowledge distillation from the network before the budget cuts it (<see cref="Distillation"/>).</summary>
/// <param name="Weight">alpha in the loss (1 - alpha) CE + alpha T^2 KL; 0 turns distillation off.</param>
/// <param name="Temperature">T, which softens both distributions.</param>
/// <param name="ThroughRecovery">Whether the teacher stays after the freeze, through the recovery, instead of being
/// released at the freeze.</param>
/// <param name="EmaDecay">0: the teacher is a snapshot taken at <see cref="TeacherRamp"/>. Above 0: the teacher is taken
/// at the first step and follows the network as an exponential moving average of its weights with this decay.</param>
internal sealed record DistillationSettings(double Weight, double Temperature, bool ThroughRecovery, double EmaDecay = 0)
{
    /// <summary>The penalty ramp s(t) at which the teacher is taken: the budget's path has then removed a tenth of the
    /// cut, so the teacher is still essentially the dense network, yet it has trained for as long as that allows.</summary>
    public const double TeacherRamp = 0.1;

    /// <summary>Whether training distils at all.</summary>
    public bool IsOn => Weight > 0;
}

/// <summary>The teacher a compressed network distils from: a frozen copy of the network's own weights taken while it is
/// still dense (<see cref="DistillationSettings.TeacherRamp"/>), in eval mode, whose logits soften the labels while
/// groups fade and, with <see cref="DistillationSettings.ThroughRecovery"/>, while the cut network recovers. It costs a
/// second forward pass per step and one copy of the weights, only while it exists: <see cref="Release"/> disposes it.</summary>
internal sealed class Distillation(DistillationSettings settings) : IDisposable
{
    private EdpNet? _teacher;

    /// <summary>Whether a teacher is held now.</summary>
    public bool HasTeacher => _teacher is not null;

    /// <summary>Whether the teacher is taken at <paramref name="step"/>: distillation is on, the network has groups to
    /// remove, it has a ramp (without one the network is never dense after step 0), no teacher is held, and the ramp has just reached <see cref="DistillationSettings.TeacherRamp"/> before
    /// the freeze (a teacher lost to a resume in its phase is not taken again, since the network is no longer dense).</summary>
    public bool TakesAt(long step, PenaltySteps penalties, bool hasGroups)
        => settings.IsOn && hasGroups && _teacher is null && penalties.Ramp > 0 && !penalties.FrozenAt(step)
           && (settings.EmaDecay > 0 ? step == 0
               : penalties.RampAt(step) >= DistillationSettings.TeacherRamp && (step == 0 || penalties.RampAt(step - 1) < DistillationSettings.TeacherRamp));

    /// <summary>With <see cref="DistillationSettings.EmaDecay"/>, moves the teacher towards <paramref name="student"/>
    /// after optimizer step <paramref name="step"/>: weights by the decay (less over the first steps, as
    /// min(decay, (1 + step) / (10 + step)), so that the random start fades fast), BN statistics copied.</summary>
    public void Follow(EdpNet student, long step)
    {
        if (_teacher is null || settings.EmaDecay <= 0)
            return;
        double decay = Math.Min(settings.EmaDecay, (1.0 + step) / (10.0 + step));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var ((_, t), (_, s)) in _teacher.named_parameters().Zip(student.named_parameters()))
            t.mul_(decay).add_(s, alpha: 1 - decay);
        foreach (var ((_, t), (_, s)) in _teacher.named_buffers().Zip(student.named_buffers()))
            t.copy_(s);
    }

    /// <summary>Whether the teacher's phase ends at <paramref name="step"/>, the freeze (unless it stays through recovery).</summary>
    public bool EndsAt(long step, PenaltySteps penalties) => _teacher is not null && !settings.ThroughRecovery && penalties.FrozenAt(step);

    /// <summary>Takes a frozen copy of <paramref name="student"/>'s weights and BN statistics as the teacher.</summary>
    public void Take(EdpNet student, Device device, EdpCoefficientInit init)
    {
        var teacher = new EdpNet(student.Graph, init);
        using (no_grad())
            teacher.load_state_dict(student.state_dict());
        foreach (var p in teacher.parameters())
            p.requires_grad = false;
        teacher.to(device);
        teacher.eval();
        _teacher = teacher;
    }

    /// <summary>The training loss of <paramref name="logits"/> on the images <paramref name="x"/>: the cross-entropy
    /// alone without a teacher, else mixed with the teacher's soft targets.</summary>
    public Tensor Loss(Tensor logits, Tensor labels, Tensor x)
    {
        if (_teacher is null)
            return nn.functional.cross_entropy(logits, labels);
        Tensor teacherLogits;
        using (no_grad())
            teacherLogits = _teacher.forward(x);
        return Mixed(logits, teacherLogits, labels, settings.Weight, settings.Temperature);
    }

    /// <summary>(1 - <paramref name="weight"/>) CE(labels) + weight T^2 KL(softmax(teacher/T) || softmax(student/T)),
    /// batch mean; T^2 keeps the soft term's gradient on the scale of the hard one's as T grows (Hinton et al., 2015).</summary>
    public static Tensor Mixed(Tensor student, Tensor teacher, Tensor labels, double weight, double temperature)
    {
        using var scope = NewDisposeScope();
        var hard = nn.functional.cross_entropy(student, labels);
        var target = nn.functional.log_softmax(teacher / temperature, 1);
        var predicted = nn.functional.log_softmax(student / temperature, 1);
        var kl = (target.exp() * (target - predicted)).sum(1).mean();
        return ((1 - weight) * hard + weight * temperature * temperature * kl).MoveToOuterDisposeScope();
    }

    /// <summary>The teacher's weights and BN statistics, for a checkpoint written in its phase; null without one.</summary>
    public IReadOnlyDictionary<string, Tensor>? State => _teacher?.state_dict();

    /// <summary>Takes the teacher back from a checkpoint's <see cref="State"/>.</summary>
    public void Restore(EdpNet student, IReadOnlyDictionary<string, Tensor> state, Device device, EdpCoefficientInit init)
    {
        Take(student, device, init);
        using (no_grad())
            _teacher!.load_state_dict(state.ToDictionary(e => e.Key, e => e.Value));
    }

    /// <summary>Disposes the teacher's tensors; training goes on with the cross-entropy alone.</summary>
    public void Release()
    {
        _teacher?.Dispose();
        _teacher = null;
    }

    public void Dispose() => Release();
}
